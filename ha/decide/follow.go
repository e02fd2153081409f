package decide

import (
	"fmt"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
)

// follow: another member holds the leader key.
func follow(in Input, holder string) Decision {
	self := in.Self
	if self.PG.Primary() {
		return Decision{Action: Demote, Leader: holder,
			Reason: fmt.Sprintf("%s holds the leader key: demoting, two primaries must never accept writes", holder)}
	}
	d := Decision{Action: Follow, Leader: holder, Start: !self.PG.Running,
		Reason: fmt.Sprintf("following the leader %s", holder)}
	var leaderTL uint32
	m, ok := in.Cluster.LeaderMember()
	if ok {
		// Right after a promotion the leader's member key may still show
		// its old timeline; the history key, written by the leader once
		// promoted, already leads to the new one.
		leaderTL = max(m.Data.Timeline, in.Cluster.History.LastTimeline())
	}
	switch {
	case ok && !m.Data.IsRunning():
		// A stopped leader's timeline is its last checkpoint's, which may
		// predate its promotion; and pg_rewind needs a running source.
		d.Reason += " (its PostgreSQL is not running: no rewind against it)"
		return d
	case ok && !m.Data.IsPrimary():
		// Its key predates its promotion: the timeline in it is the old one.
		d.Reason += " (its member key does not show it as primary yet: no rewind decided on it)"
		return d
	}
	if rewind, why := diverged(self.PG, leaderTL, in.Cluster.History); rewind {
		d.Rewind = true
		d.Reason += ", rewinding first: " + why
	}
	return d
}

// diverged reports whether a server's WAL left the leader's history, so
// that it must be rewound before it can follow: it is on a newer timeline
// than the leader's, or on an older one and has WAL past the point where
// the leader's history switched away from it. With a timeline unknown (0)
// it reports false: pg_rewind cannot be told what to do.
func diverged(self PG, leaderTL uint32, h *dcs.History) (bool, string) {
	switch {
	case self.Timeline == 0 || leaderTL == 0 || self.Timeline == leaderTL:
		return false, ""
	case self.Timeline > leaderTL:
		return true, fmt.Sprintf("this member is on timeline %d, the leader on %d", self.Timeline, leaderTL)
	}
	sp, ok := h.SwitchPoint(self.Timeline)
	if !ok {
		return true, fmt.Sprintf("timeline %d is not in the cluster's history: its switch point is unknown", self.Timeline)
	}
	if uint64(self.LSN) > sp {
		return true, fmt.Sprintf("WAL up to %s on timeline %d, past the leader's switch away from it at %s",
			self.LSN, self.Timeline, pg.LSN(sp))
	}
	return false, ""
}

// vacant: the leader key is free.
func vacant(in Input, fenceAt time.Time) Decision {
	self := in.Self
	e := Elect(in.Cluster, in.Settings, everyone(in), in.Now)
	switch {
	case e.Winner == self.Name:
		return Decision{Action: Acquire, FenceAt: fenceAt, Election: e, ClearFailover: in.Cluster.Failover != nil,
			Reason: "the leader key is free: " + e.Reason}
	case self.PG.Primary():
		return Decision{Action: Demote, Election: e,
			Reason: "the leader key is free and this member does not win the election: demoting (" + e.Reason + ")"}
	case !self.PG.Running:
		return Decision{Action: Follow, Start: true, Election: e,
			Reason: "the leader key is free: starting PostgreSQL read-only to take part in the election (" + e.Reason + ")"}
	case e.Winner == "":
		return Decision{Action: Wait, Election: e, Reason: "the leader key is free: " + e.Reason}
	}
	return Decision{Action: Wait, Election: e,
		Reason: fmt.Sprintf("the leader key is free: waiting for %s to take it (%s)", e.Winner, e.Reason)}
}
