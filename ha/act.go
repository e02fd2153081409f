package ha

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/ha/decide"
)

// act carries out a decision. Failures are logged; the next turn decides
// again from what then is.
func (a *Agent) act(ctx context.Context, d decide.Decision, c dcs.Cluster, st pgState) {
	var err error
	switch d.Action {
	case decide.Renew:
		err = a.lead(ctx, d, c, st)
	case decide.Acquire:
		err = a.acquire(ctx, d, c, st)
	case decide.Promote:
		err = a.promote(ctx, c)
	case decide.Demote:
		if d.ReleaseKey && d.Leader != "" && st.Primary() {
			err = a.handOver(ctx, d, c) // a switchover: see handover.go
			break
		}
		err = a.demote(ctx, d)
	case decide.Follow:
		err = a.follow(ctx, d, c)
		if err == nil && st.Running && st.InRecovery && d.Leader != "" {
			if err := a.replicaSlots(ctx, c, st.Replay); err != nil && ctx.Err() == nil {
				a.log.Warn("permanent replication slots", "err", err)
			}
		}
	case decide.Bootstrap:
		err = a.bootstrap(ctx)
	case decide.CreateReplica:
		err = a.createReplica(ctx, c, d.Leader)
	case decide.Wait:
		if d.ReleaseKey {
			_, err = a.dcs.ReleaseLeader(ctx)
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			a.log.Error("action failed", "action", d.Action.String(), "err", err)
		}
		return
	}
	if d.ClearFailover && c.Failover != nil {
		if d.Action == decide.Renew {
			a.setRefusal(d.Reason) // for the REST call that asked (api_switchover.go)
		}
		if err := a.dcs.DeleteFailover(ctx, c.Failover.ModRevision); err != nil {
			a.log.Warn("delete the failover key", "err", err)
		}
	}
}

// lead keeps the leader key, the replication slots and synchronous
// replication, and publishes the leader's position and its permanent
// slots'.
func (a *Agent) lead(ctx context.Context, d decide.Decision, c dcs.Cluster, st pgState) error {
	if err := a.dcs.UpdateLeader(ctx); err != nil {
		return err
	}
	if d.Start {
		if err := a.pg.Start(ctx, false); err != nil {
			return err
		}
	}
	if !c.Initialized {
		a.adoptInitialize(ctx)
	}
	if st.Primary() {
		slots := a.leaderReplication(ctx, c)
		return a.dcs.SetStatus(ctx, dcs.Status{Optime: uint64(st.LSN), Slots: slots})
	}
	return nil
}

// acquire takes the free leader key and promotes.
func (a *Agent) acquire(ctx context.Context, d decide.Decision, c dcs.Cluster, st pgState) error {
	ok, holder, err := a.dcs.AcquireLeader(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s took the leader key first", holder)
	}
	if st.Primary() {
		return nil
	}
	return a.promote(ctx, c)
}

// promote promotes PostgreSQL and records the new timeline in the history
// key.
func (a *Agent) promote(ctx context.Context, c dcs.Cluster) error {
	start := time.Now()
	if err := a.beforePromote(ctx, c); err != nil {
		return err
	}
	if err := a.pg.Promote(ctx); err != nil {
		return err
	}
	a.setPrimary(true)
	a.log.Info("promoted", "took", time.Since(start).Round(time.Millisecond))
	// The history key before the member key shows this member as primary
	// on its new timeline: a replica that saw the latter without the switch
	// point would stop and pg_rewind for nothing (the checkpoint in
	// afterPromote takes a while on a busy server).
	err := a.recordHistory(ctx, c)
	a.afterPromote(ctx, c)
	return err
}

// recordHistory writes the history key after a promotion.
func (a *Agent) recordHistory(ctx context.Context, c dcs.Cluster) error {
	entries, err := a.pg.timelineHistory(ctx, c.History, a.o.Name, time.Now())
	if err != nil || entries == nil {
		return err
	}
	return a.dcs.SetHistory(ctx, entries)
}

// demote makes PostgreSQL read-only: at once (immediate) when another member
// may already lead, cleanly (fast: the standbys get all WAL) when handing
// the key over; then releases the key if asked.
func (a *Agent) demote(ctx context.Context, d decide.Decision) error {
	mode := "immediate"
	if d.ReleaseKey {
		mode = "fast"
	}
	if err := a.pg.Demote(ctx, mode); err != nil {
		return err
	}
	a.setPrimary(false)
	if d.ReleaseKey {
		if _, err := a.dcs.ReleaseLeader(ctx); err != nil {
			return err
		}
	}
	return nil
}

// follow runs PostgreSQL as a standby of the leader.
func (a *Agent) follow(ctx context.Context, d decide.Decision, c dcs.Cluster) error {
	leader, ok := c.Member(d.Leader)
	switch {
	case d.Leader != "" && !ok:
		return fmt.Errorf("the leader %s has no member key", d.Leader)
	case d.Rewind && ok:
		src, err := a.conninfo(leader.Data, "dbname=postgres")
		if err != nil {
			return err
		}
		ci, err := a.conninfo(leader.Data, "application_name="+a.o.Name)
		if err != nil {
			return err
		}
		if err := a.pg.Rewind(ctx, src, ci, slotName(a.o.Name)); err != nil {
			if !errors.Is(err, errRewind) || ctx.Err() != nil {
				return err
			}
			a.log.Error("pg_rewind failed: re-creating this member as a replica", "leader", d.Leader, "err", err)
			return a.recreate(ctx, c, d.Leader)
		}
	case d.Start:
		if err := a.pg.Start(ctx, true); err != nil {
			return err
		}
	}
	if !ok {
		return nil
	}
	ci, err := a.conninfo(leader.Data, "application_name="+a.o.Name)
	if err != nil {
		return err
	}
	changed, err := a.pg.Follow(ctx, ci, slotName(a.o.Name))
	if changed {
		a.log.Info("following", "leader", d.Leader)
	}
	if err != nil {
		return err
	}
	if changed || d.Start || d.Rewind {
		a.resetStall()
	} else if a.stalled(ctx, c, leader.Data) {
		return a.recreate(ctx, c, d.Leader)
	}
	return nil
}

// conninfo is a libpq connection string to a member, from its conn_url,
// as the replication user, with extra settings.
func (a *Agent) conninfo(m dcs.MemberData, extra string) (string, error) {
	u, err := url.Parse(m.ConnURL)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("conn_url %q: not a postgres://host:port/ URL", m.ConnURL)
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	return fmt.Sprintf("host=%s port=%s user=%s %s", u.Hostname(), port, a.o.ReplicationUser, extra), nil
}
