package decide

import (
	"fmt"
	"time"
)

// lead: this member holds the leader key.
func lead(in Input, fenceAt time.Time) Decision {
	self := in.Self
	if d, ok := handover(in, fenceAt); ok {
		return d
	}
	if !self.PG.Running {
		// Fail over at once rather than wait for a restart, when a replica
		// can take over; else restart here.
		e := Elect(in.Cluster, in.Settings, everyone(in), in.Now)
		if e.Winner != "" {
			return Decision{Action: Demote, ReleaseKey: true, Election: e,
				Reason: fmt.Sprintf("PostgreSQL is not running: releasing the leader key so that %s takes over", e.Winner)}
		}
		return Decision{Action: Renew, Start: true, FenceAt: fenceAt, Election: e,
			Reason: "PostgreSQL is not running and no replica can take over (" + e.Reason + "): starting it as primary"}
	}
	if self.PG.InRecovery {
		return Decision{Action: Promote, FenceAt: fenceAt, ClearFailover: in.Cluster.Failover != nil,
			Reason: "holding the leader key while in recovery: promoting"}
	}
	return Decision{Action: Renew, FenceAt: fenceAt, Reason: "leader: renewing the lease"}
}

// handover carries out a due switchover (or a manual failover) away from
// this leader, or refuses it (see CheckRequest). ok is false when there is
// none to handle.
func handover(in Input, fenceAt time.Time) (Decision, bool) {
	req, self := in.Cluster.Failover, in.Self
	if req == nil || !req.Due(in.Now) {
		return Decision{}, false
	}
	e, refused := CheckRequest(in.Cluster, in.Settings, *req, everyone(in), in.Now)
	if refused != "" {
		return Decision{Action: Renew, FenceAt: fenceAt, ClearFailover: true, Start: !self.PG.Running, Election: e,
			Reason: fmt.Sprintf("leader: renewing the lease; refusing the %s: %s", requestKind(req), refused)}, true
	}
	return Decision{Action: Demote, Leader: e.Winner, ReleaseKey: true, Election: e,
		Reason: fmt.Sprintf("%s to %s: demoting and handing over the leader key (%s)", requestKind(req), e.Winner, e.Reason)}, true
}
