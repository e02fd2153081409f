package ha

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/ha/decide"
	"github.com/pgkeep/pgkeep/pg"
)

// handOverTimeout bounds how long a leader that stopped for a switchover
// waits for the target to receive its last WAL before it starts again as
// primary and drops the request.
const handOverTimeout = 15 * time.Second

// handOver carries out a switchover from this running primary to d.Leader
// without losing a commit: CHECKPOINT (so the shutdown is quick), stop with
// a fast shutdown (PostgreSQL sends all WAL, the shutdown checkpoint
// included, to the connected standbys before it exits), publish the final
// LSN in the status key, wait until the target reports it has received
// it, and only then release the leader key and start again as a standby.
// If the target does not catch up in time, PostgreSQL starts again as
// primary, still holding the key, and the request is dropped.
func (a *Agent) handOver(ctx context.Context, d decide.Decision, c dcs.Cluster) error {
	start := time.Now()
	target, ok := c.Member(d.Leader)
	if !ok {
		return fmt.Errorf("switchover: %s has no member key", d.Leader)
	}
	// The fast shutdown sends all WAL to the standbys connected then: the
	// target must be one of them (its WAL receiver may be restarting, e.g.
	// for a new slot), or it could never catch up with the final LSN.
	if err := a.pg.waitStreaming(ctx, d.Leader, streamWait); err != nil {
		err = fmt.Errorf("%s does not stream from this primary: %w; not shutting down", d.Leader, err)
		return a.dropRequest(ctx, c, fmt.Errorf("switchover to %s refused, staying the primary: %w", d.Leader, err))
	}
	if err := a.pg.Checkpoint(ctx); err != nil {
		a.log.Warn("switchover: checkpoint before the shutdown", "err", err)
	}
	if err := a.pg.Stop(ctx, "fast"); err != nil {
		return fmt.Errorf("switchover: %w", err)
	}
	a.setStopped()
	final, err := a.pg.controlData(ctx)
	if err == nil {
		err = a.dcs.SetStatus(ctx, dcs.Status{Optime: uint64(final.LSN)})
	}
	if err == nil {
		err = a.waitCaughtUp(ctx, target, final.LSN)
	}
	if err != nil {
		return a.abortHandOver(ctx, d, c, err)
	}
	stopped := time.Since(start)
	if _, err := a.dcs.ReleaseLeader(ctx); err != nil {
		return fmt.Errorf("switchover: %w", err)
	}
	a.log.Info("switchover: handed the leader key over", "to", d.Leader, "final_lsn", final.LSN.String(),
		"stopped_after", stopped.Round(time.Millisecond))
	if err := a.pg.Start(ctx, true); err != nil {
		return fmt.Errorf("switchover: start as a standby: %w", err)
	}
	return nil
}

// streamWait bounds the wait for the target to stream before a hand-over.
const streamWait = 10 * time.Second

// waitCaughtUp waits until the member's REST API reports WAL up to lsn.
func (a *Agent) waitCaughtUp(ctx context.Context, m dcs.Member, lsn pg.LSN) error {
	ctx, cancel := context.WithTimeout(ctx, handOverTimeout)
	defer cancel()
	var last error
	for {
		st, err := a.askPeer(ctx, m.Data.APIURL)
		switch {
		case err != nil:
			last = err
		case st.PG.LSN >= lsn:
			return nil
		default:
			last = fmt.Errorf("at %s", st.PG.LSN)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not receive the WAL up to the final %s within %s (%w)", m.Name, lsn, handOverTimeout, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// abortHandOver starts PostgreSQL again as primary and drops the request.
func (a *Agent) abortHandOver(ctx context.Context, d decide.Decision, c dcs.Cluster, why error) error {
	err := a.pg.Start(ctx, false)
	if err == nil {
		a.setPrimary(true)
	}
	return errors.Join(err, a.dropRequest(ctx, c, fmt.Errorf("switchover to %s aborted, staying the primary: %w", d.Leader, why)))
}

// dropRequest deletes the failover key of a request not carried out, and
// returns why.
func (a *Agent) dropRequest(ctx context.Context, c dcs.Cluster, why error) error {
	if c.Failover != nil {
		why = errors.Join(why, a.dcs.DeleteFailover(ctx, c.Failover.ModRevision))
	}
	return why
}

// setStopped records that the agent stopped PostgreSQL itself.
func (a *Agent) setStopped() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.view.pg.Running, a.view.pg.InRecovery = false, true
	a.roleSetAt = time.Now()
}
