package ha

import (
	"context"
	"errors"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/ha/decide"
)

// watchdogTick is how often the watchdog checks the fencing deadline.
const watchdogTick = 50 * time.Millisecond

// keepLease renews the lease every (ttl - safety margin) / 3, apart from the
// loop, so that a loop busy promoting or starting PostgreSQL does not let
// the lease lapse.
func (a *Agent) keepLease(ctx context.Context) {
	t := time.NewTicker((a.o.TTL - a.o.SafetyMargin) / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r, err := a.dcs.KeepAlive(ctx)
		switch {
		case err == nil:
			a.renewed(r)
			if r.Granted {
				a.poke() // the old lease's keys are gone: rewrite the member key
			}
		case errors.Is(err, dcs.ErrLeaseLost):
			a.log.Error("the lease is lost: its member and leader keys are gone", "err", err)
			a.poke()
		case ctx.Err() == nil:
			a.log.Warn("lease renewal failed", "err", err)
		}
	}
}

// renewed records a successful renewal.
func (a *Agent) renewed(r dcs.Renewal) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.SentAt.After(a.lastRenewal) {
		a.lastRenewal = r.SentAt
	}
}

// lastRenewed is when the last successful renewal was sent.
func (a *Agent) lastRenewed() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastRenewal
}

// fenceAt is the deadline of a primary: last renewal + ttl - margin.
func (a *Agent) fenceAt() time.Time {
	return decide.FenceDeadline(a.lastRenewed(), a.o.TTL, a.o.SafetyMargin)
}

// watchdog stops PostgreSQL at once (immediate mode) when it runs as
// primary past the fencing deadline, whatever the loop is doing: etcd may
// give the leader key to another member as soon as the TTL ends.
func (a *Agent) watchdog(ctx context.Context) {
	t := time.NewTicker(watchdogTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v := a.lastView()
		if !v.pg.Primary() || v.settings.Pause || time.Now().Before(a.fenceAt()) {
			continue
		}
		a.log.Error("self-fence: the lease was not renewed in time; stopping PostgreSQL at once",
			"last_renewal", a.lastRenewed(), "deadline", a.fenceAt())
		if err := a.pg.Stop(ctx, "immediate"); err != nil {
			a.log.Error("self-fence: stopping PostgreSQL failed", "err", err)
			continue
		}
		a.setPrimary(false)
		a.poke()
	}
}
