package ha

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
)

// DefaultStallTimeout is how long a replica may neither stream from the
// leader nor replay anything before it is re-created.
const DefaultStallTimeout = time.Minute

// stallWatch is what the agent remembers about its replica's progress.
type stallWatch struct {
	replay pg.LSN    // the replay position last seen moving
	since  time.Time // when it was seen moving (or streaming); zero: never
}

// observe updates the watch with a replica's state and reports whether it
// has stalled: no streaming WAL receiver and no replay progress for
// timeout, while the leader's last position is ahead of it.
func (w stallWatch) observe(streaming bool, replay pg.LSN, leaderAt uint64, now time.Time, timeout time.Duration) (stallWatch, bool) {
	if streaming || replay != w.replay || w.since.IsZero() {
		return stallWatch{replay: replay, since: now}, false
	}
	return w, now.Sub(w.since) >= timeout && leaderAt > uint64(replay)
}

// stalled reports whether this running replica cannot follow the leader
// (the WAL it needs is gone from the leader and the archive, say), so that
// it must be re-created: see stallWatch. It also checks that the leader
// answers, so that a network problem never makes a replica throw its data
// away.
func (a *Agent) stalled(ctx context.Context, c dcs.Cluster, leader dcs.MemberData) bool {
	var status string
	var replay *string
	conn, err := pg.Connect(ctx, a.pg.conn)
	if err != nil {
		return false
	}
	err = conn.QueryRow(ctx, `SELECT coalesce((SELECT status FROM pg_stat_wal_receiver), ''), pg_last_wal_replay_lsn()::text`).Scan(&status, &replay)
	conn.Close(context.WithoutCancel(ctx))
	if err != nil || replay == nil {
		return false
	}
	lsn, err := pg.ParseLSN(*replay)
	if err != nil {
		return false
	}
	a.mu.Lock()
	w, stalled := a.stall.observe(status == "streaming", lsn, c.Status.Optime, time.Now(), a.o.StallTimeout)
	a.stall = w
	a.mu.Unlock()
	if !stalled {
		return false
	}
	if err := a.leaderAnswers(ctx, leader); err != nil {
		a.log.Warn("the replica does not stream nor replay, but the leader does not answer either: not re-creating it", "err", err)
		return false
	}
	a.log.Error("the replica has neither streamed nor replayed anything for too long: re-creating it",
		"replayed", lsn, "leader_at", pg.LSN(c.Status.Optime), "since", w.since)
	return true
}

// leaderAnswers connects to the leader's PostgreSQL as the replication
// user.
func (a *Agent) leaderAnswers(ctx context.Context, leader dcs.MemberData) error {
	host, port, err := hostPort(leader.ConnURL)
	if err != nil {
		return err
	}
	conn, err := pg.Connect(ctx, pg.ConnOptions{Host: host, Port: port, User: a.o.ReplicationUser, Database: "postgres", Timeout: a.o.RetryTimeout})
	if err != nil {
		return fmt.Errorf("leader %s: %w", leader.ConnURL, err)
	}
	conn.Close(context.WithoutCancel(ctx))
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
