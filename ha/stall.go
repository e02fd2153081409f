package ha

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
)

// DefaultStallTimeout is how long a replica behind the leader may neither
// receive nor replay anything before it is re-created.
const DefaultStallTimeout = time.Minute

// stallWatch is what the agent remembers about its replica's progress.
type stallWatch struct {
	at    pg.LSN    // the position (received or replayed) last seen moving
	since time.Time // when it was seen moving; zero: never
}

// observe updates the watch with a replica's position (the newer of
// received and replayed) and reports whether it has stalled: its position
// has not moved for timeout while the leader's last position is ahead of
// it. (A WAL receiver's status is no sign of progress: one whose WAL is
// gone from the leader shows "streaming" for a moment at every retry.)
func (w stallWatch) observe(at pg.LSN, leaderAt uint64, now time.Time, timeout time.Duration) (stallWatch, bool) {
	if at != w.at || w.since.IsZero() {
		return stallWatch{at: at, since: now}, false
	}
	return w, now.Sub(w.since) >= timeout && leaderAt > uint64(at)
}

// stalled reports whether this running replica cannot follow the leader
// (the WAL it needs is gone from the leader and the archive, say), so that
// it must be re-created: see stallWatch. It also checks that the leader
// answers, so that a network problem never makes a replica throw its data
// away.
func (a *Agent) stalled(ctx context.Context, c dcs.Cluster, leader dcs.MemberData) bool {
	var receive, replay *string
	conn, err := pg.Connect(ctx, a.pg.conn)
	if err != nil {
		return false
	}
	err = conn.QueryRow(ctx, `SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text`).Scan(&receive, &replay)
	conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return false
	}
	var at pg.LSN
	for _, s := range []*string{receive, replay} {
		if s == nil {
			continue
		}
		if lsn, err := pg.ParseLSN(*s); err == nil && lsn > at {
			at = lsn
		}
	}
	a.mu.Lock()
	w, stalled := a.stall.observe(at, c.Status.Optime, time.Now(), a.o.StallTimeout)
	a.stall = w
	a.mu.Unlock()
	if !stalled {
		return false
	}
	if err := a.leaderAnswers(ctx, leader); err != nil {
		a.log.Warn("the replica has not moved, but the leader does not answer either: not re-creating it", "err", err)
		return false
	}
	a.log.Error("the replica has neither received nor replayed anything for too long: re-creating it",
		"position", at, "leader_at", pg.LSN(c.Status.Optime), "since", w.since)
	return true
}

// leaderAnswers opens a replication connection to the leader as the
// replication user and identifies its system: what pg_basebackup will
// need to re-create the replica.
func (a *Agent) leaderAnswers(ctx context.Context, leader dcs.MemberData) error {
	host, port, err := hostPort(leader.ConnURL)
	if err != nil {
		return err
	}
	o := pg.ConnOptions{Host: host, Port: port, User: a.o.ReplicationUser, Database: "postgres", Timeout: a.o.RetryTimeout}
	conn, err := pgconn.Connect(ctx, o.ConnString()+"&replication=true")
	if err != nil {
		return fmt.Errorf("leader %s: %w", leader.ConnURL, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := pglogrepl.IdentifySystem(ctx, conn); err != nil {
		return fmt.Errorf("leader %s: IDENTIFY_SYSTEM: %w", leader.ConnURL, err)
	}
	return nil
}

// hostPort reads the host and port of a postgres:// URL.
func hostPort(connURL string) (string, int, error) {
	u, err := url.Parse(connURL)
	if err != nil || u.Hostname() == "" {
		return "", 0, fmt.Errorf("conn_url %q: not a postgres://host:port/ URL", connURL)
	}
	port := 5432
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return "", 0, fmt.Errorf("conn_url %q: port: %w", connURL, err)
		}
	}
	return u.Hostname(), port, nil
}

// resetStall forgets the replica's progress (it was just started or
// pointed at another leader).
func (a *Agent) resetStall() {
	a.mu.Lock()
	a.stall = stallWatch{}
	a.mu.Unlock()
}
