package basebackup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/pgkeep/pgkeep/pg"
)

// standbyVerdict is what became of one member as a standby candidate.
type standbyVerdict struct {
	m      member
	conn   pg.ConnOptions
	info   pg.ServerInfo
	replay pg.LSN
	err    error // why it was rejected
}

// pickStandby chooses, among the members etcd lists as running replicas, the
// streaming standby that has replayed the most WAL. The servers are asked in
// parallel, each within o.Timeout.
func pickStandby(ctx context.Context, o DiscoverOptions, v dcsView) (Source, error) {
	if len(v.members) == 0 {
		return Source{}, fmt.Errorf("%w: no member keys under %s in etcd (is the cluster running, is the scope right?)",
			ErrNoStandby, v.keys.members())
	}
	verdicts := make([]standbyVerdict, len(v.members))
	var wg sync.WaitGroup
	for i, m := range v.members {
		vd := &verdicts[i]
		vd.m = m
		if err := unsuitableMember(m, v.leader); err != nil {
			vd.err = fmt.Errorf("%s %w", m.Name, err)
			continue
		}
		conn, err := o.memberConn(m)
		if err != nil {
			vd.err = fmt.Errorf("%s has a bad member key: %w", m.Name, err)
			continue
		}
		vd.conn = conn
		wg.Go(func() {
			subject := fmt.Sprintf("%s (%s)", m.Name, address(conn))
			info, replay, err := inspectStandby(ctx, conn, o)
			if err != nil {
				vd.err = fmt.Errorf("%s %w", subject, err)
				return
			}
			vd.info, vd.replay, vd.err = info, replay, checkSystemID(subject, info.SystemID, o.SystemID)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Source{}, fmt.Errorf("look for a standby: %w", err)
	}
	var best *standbyVerdict
	var rejected []error
	for i := range verdicts {
		vd := &verdicts[i]
		switch {
		case vd.err != nil:
			rejected = append(rejected, vd.err)
		case best == nil || vd.replay > best.replay:
			best = vd
		}
	}
	if best == nil {
		return Source{}, &noStandbyError{where: v.keys.members(), rejected: rejected}
	}
	return Source{Member: best.m.Name, Conn: best.conn, Info: best.info}, nil
}

// noStandbyError lists why each member was rejected. It matches
// ErrNoStandby and every reason, repo.ErrClusterMismatch included.
type noStandbyError struct {
	where    string // the members' key prefix
	rejected []error
}

func (e *noStandbyError) Error() string {
	why := make([]string, len(e.rejected))
	for i, err := range e.rejected {
		why[i] = err.Error()
	}
	return fmt.Sprintf("%v among the members under %s: %s", ErrNoStandby, e.where, strings.Join(why, "; "))
}

func (e *noStandbyError) Unwrap() []error { return append([]error{ErrNoStandby}, e.rejected...) }

// unsuitableMember says why etcd's view of m already rules it out; the
// reason reads after the member's name.
func unsuitableMember(m member, leader string) error {
	switch {
	case m.err != nil:
		return fmt.Errorf("has a bad member key: %w", m.err)
	case m.Name == leader:
		return errors.New("holds the leader key")
	case m.Role != roleReplica:
		return fmt.Errorf("has role %q, not %q", m.Role, roleReplica)
	case m.State != "running" && m.State != "streaming":
		return fmt.Errorf("has state %q, not running", m.State)
	}
	return nil
}

// inspectStandby checks that the server is a standby that streams WAL from
// its primary and returns how far it has replayed. Its errors read after the
// server's name.
func inspectStandby(ctx context.Context, c pg.ConnOptions, o DiscoverOptions) (pg.ServerInfo, pg.LSN, error) {
	var receiver bool
	var status, replay *string
	info, err := inspect(ctx, c, o.Timeout, func(ctx context.Context, conn *pgx.Conn) error {
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_stat_wal_receiver),
			(SELECT status FROM pg_stat_wal_receiver), pg_last_wal_replay_lsn()::text`).Scan(&receiver, &status, &replay)
		if err != nil {
			return fmt.Errorf("query WAL receiver: %w", err)
		}
		return nil
	})
	switch {
	case err != nil:
		return info, 0, err
	case !info.InRecovery:
		return info, 0, errors.New("is not in recovery: it runs as a primary")
	case !receiver:
		return info, 0, errors.New("runs no WAL receiver: it does not stream from a primary")
	case status == nil:
		return info, 0, fmt.Errorf("hides its WAL receiver's status from user %q (grant it pg_read_all_stats)", c.User)
	case *status != "streaming":
		return info, 0, fmt.Errorf("has a WAL receiver that is %s, not streaming", *status)
	case replay == nil:
		return info, 0, errors.New("has replayed no WAL yet")
	}
	lsn, err := pg.ParseLSN(*replay)
	if err != nil {
		return info, 0, fmt.Errorf("reports a bad replay position %q: %w", *replay, err)
	}
	return info, lsn, nil
}
