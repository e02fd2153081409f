package ha

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/ha/decide"
	"github.com/pgkeep/pgkeep/pg"
)

// Synchronous replication on the primary: one step of decide.SyncNext per
// turn (see there for the invariant and the order of the steps), and at
// once another turn after a step that changed something.

const (
	// syncSettle is how long after changing synchronous_standby_names the
	// agent waits before it trusts pg_stat_replication's sync_state: every
	// walsender must have reloaded the configuration (they do at once on
	// SIGHUP; this covers a busy one).
	syncSettle = 200 * time.Millisecond
	// syncPoll is how often the agent looks again while it waits for a
	// standby to become synchronous, for at most syncPollFor after the
	// change.
	syncPoll    = 100 * time.Millisecond
	syncPollFor = 5 * time.Second
)

// leaderReplication keeps the primary's slots and synchronous replication,
// and returns the permanent slots' positions for the status key. Failures
// are logged; the next turn tries again.
func (a *Agent) leaderReplication(ctx context.Context, c dcs.Cluster) map[string]uint64 {
	var slots map[string]uint64
	err := a.pg.withConn(ctx, func(conn *pgx.Conn) error {
		var err error
		if slots, err = a.primarySlots(ctx, conn, c); err != nil {
			a.log.Warn("replication slots", "err", err)
		}
		return a.syncStep(ctx, conn, c)
	})
	if err != nil && ctx.Err() == nil {
		a.log.Error("synchronous replication", "err", err)
	}
	return slots
}

// syncStep takes one step of the synchronous replication's management.
func (a *Agent) syncStep(ctx context.Context, conn *pgx.Conn, c dcs.Cluster) error {
	if c.Revision < a.repl.keyWritten {
		// A snapshot older than this primary's last write of the sync key
		// (etcd did not answer this turn): deciding on it could change
		// synchronous_standby_names while the key names the standby.
		return nil
	}
	s := c.Settings(a.o.settings())
	r, err := replication(ctx, conn)
	if err != nil {
		return err
	}
	names, star := parseSyncNames(r.Names.Value)
	in := decide.SyncInput{Self: a.o.Name, Settings: s, Key: c.Sync, Members: c.Members,
		Names: names, Star: star, NamesManaged: r.Names.Managed, Standbys: a.readiness(r, names)}
	step := decide.SyncNext(in)
	if step.Action != decide.SyncKeep && step.Action != decide.SyncWait || step.Reason != a.repl.lastSync {
		a.log.Info("synchronous replication", "step", step.Action.String(), "standby", step.Standby, "reason", step.Reason)
	}
	a.repl.lastSync = step.Reason
	switch step.Action {
	case decide.SyncWriteKey:
		rev := int64(0)
		if c.Sync != nil {
			rev = c.Sync.ModRevision
		}
		written, err := a.dcs.SetSync(ctx, dcs.SyncState{Leader: a.o.Name, SyncStandby: step.Standby}, rev)
		if err != nil {
			return err
		}
		a.repl.keyWritten = written
		a.poke()
	case decide.SyncDeleteKey:
		if err := a.dcs.DeleteSync(ctx, c.Sync.ModRevision); err != nil {
			return err
		}
		a.repl.keyWritten = c.Revision + 1 // at least
		a.poke()
	case decide.SyncSetNames:
		if err := a.setSyncNames(ctx, conn, step, !s.SynchronousMode); err != nil {
			return err
		}
		time.AfterFunc(syncSettle, a.poke)
	case decide.SyncWait:
		if time.Since(a.repl.namesSetAt) < syncPollFor {
			time.AfterFunc(syncPoll, a.poke)
		}
	}
	return nil
}

// setSyncNames applies a SyncSetNames step (reset: ALTER SYSTEM RESET,
// synchronous mode being off).
func (a *Agent) setSyncNames(ctx context.Context, conn *pgx.Conn, step decide.SyncStep, reset bool) error {
	value := renderSyncNames(step.Standby, step.Star)
	if err := setSyncNames(ctx, conn, value, reset); err != nil {
		return err
	}
	a.repl.namesSetAt = time.Now()
	a.repl.namedAt = nil
	return nil
}

// readiness turns pg_stat_replication's rows into the decision's standbys,
// noting when each one is first seen synchronous under its own name (then
// it waits for every later commit) and whether it has since flushed the
// WAL the primary had then (all commits acknowledged before).
func (a *Agent) readiness(r replicationState, names []string) []decide.Standby {
	seen := map[string]pg.LSN{}
	var out []decide.Standby
	settled := time.Since(a.repl.namesSetAt) >= syncSettle
	for _, w := range r.Standbys {
		sb := decide.Standby{Name: w.Name, Streaming: w.State == "streaming", Sync: w.SyncState == "sync", Flush: w.Flush}
		key := strings.ToLower(w.Name)
		if sb.Streaming && sb.Sync && settled && containsFold(names, w.Name) {
			at, ok := a.repl.namedAt[key]
			if !ok {
				at = r.WAL // read after the row: no earlier commit is past it
			}
			seen[key] = at
			sb.Ready = sb.Flush >= at
		}
		out = append(out, sb)
	}
	a.repl.namedAt = seen
	return out
}

// beforePromote readies a standby that holds the leader key for its
// promotion: the other members' slots, so that they can follow it at once;
// in synchronous mode the sync key naming it the leader with no standby
// (compare-and-swap on the revision read: from its first commit on, only it
// may lead) and synchronous_standby_names empty, or '*' in strict mode.
// With synchronous mode off, a synchronous_standby_names the agent set is
// reset. An error leaves the standby unpromoted.
func (a *Agent) beforePromote(ctx context.Context, c dcs.Cluster) error {
	s := c.Settings(a.o.settings())
	return a.pg.withConn(ctx, func(conn *pgx.Conn) error {
		if err := a.ensureMemberSlots(ctx, conn, c); err != nil {
			a.log.Warn("replication slots before promoting", "err", err)
		}
		if !s.SynchronousMode {
			r, err := replication(ctx, conn)
			if err != nil || !r.Names.Managed {
				return nil
			}
			return setSyncNames(ctx, conn, "", true)
		}
		rev := int64(0)
		if c.Sync != nil {
			rev = c.Sync.ModRevision
		}
		written, err := a.dcs.SetSync(ctx, dcs.SyncState{Leader: a.o.Name}, rev)
		if err != nil {
			if errors.Is(err, dcs.ErrConflict) {
				a.poke()
			}
			return fmt.Errorf("not promoting yet: %w", err)
		}
		a.repl.keyWritten = written
		a.log.Info("synchronous mode: the sync key names this member the leader, with no synchronous standby yet")
		a.repl.namesSetAt, a.repl.namedAt = time.Now(), nil
		return setSyncNames(ctx, conn, renderSyncNames("", s.SynchronousModeStrict), false)
	})
}

// renderSyncNames is the synchronous_standby_names for one standby, '*',
// or none.
func renderSyncNames(standby string, star bool) string {
	switch {
	case star:
		return "*"
	case standby == "":
		return ""
	}
	return `"` + strings.ReplaceAll(standby, `"`, `""`) + `"`
}

// parseSyncNames reads synchronous_standby_names: the names it lists
// (unquoted) and whether it holds '*'. It accepts PostgreSQL's forms:
// "a, b", "FIRST 1 (a, b)", "ANY 2 (a, b)", "2 (a, b)".
func parseSyncNames(s string) ([]string, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '('); i >= 0 && !strings.HasPrefix(s, `"`) {
		s = strings.TrimSuffix(strings.TrimSpace(s[i+1:]), ")")
	}
	var names []string
	star := false
	for _, item := range splitNames(s) {
		switch {
		case item == "*":
			star = true
		case strings.HasPrefix(item, `"`) && strings.HasSuffix(item, `"`) && len(item) >= 2:
			names = append(names, strings.ReplaceAll(item[1:len(item)-1], `""`, `"`))
		case item != "":
			names = append(names, item)
		}
	}
	return names, star
}

// splitNames splits a list of names at the commas outside double quotes.
func splitNames(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case r == ',' && !quoted:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

// containsFold reports whether names holds name, ignoring case.
func containsFold(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// afterPromote publishes the new primary's member key at once (its new
// timeline: the others decide whether to rewind on it) and runs a
// checkpoint, so that pg_rewind against it sees the new timeline in its
// pg_control, and the members that rewind find a recent common checkpoint.
func (a *Agent) afterPromote(ctx context.Context, c dcs.Cluster) {
	if err := a.dcs.TouchMember(ctx, a.memberData(a.pg.State(ctx), c.Settings(a.o.settings()))); err != nil {
		a.warn(ctx, "cannot write the member key", err)
	}
	start := time.Now()
	if err := a.pg.withConn(ctx, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "CHECKPOINT")
		return err
	}); err != nil {
		a.log.Warn("checkpoint after the promotion", "err", err)
		return
	}
	a.log.Info("checkpoint after the promotion", "took", time.Since(start).Round(time.Millisecond))
}
