package decide

import (
	"fmt"
	"time"
)

// Decide returns what the member does this turn. It is a pure function of
// its input.
func Decide(in Input) Decision {
	if d, ok := lifecycle(in); ok {
		return d
	}
	fenceAt := FenceDeadline(in.Self.LastRenewal, in.Settings.TTL, in.SafetyMargin)
	switch {
	case in.Settings.Pause:
		if d, ok := manualInPause(in, fenceAt); ok {
			return d
		}
		return paused(in)
	case in.Self.PG.Primary() && !in.Now.Before(fenceAt):
		return selfFence(in, fenceAt)
	}
	switch holder := in.Cluster.LeaderName(); holder {
	case in.Self.Name:
		return lead(in, fenceAt)
	case "":
		return vacant(in, fenceAt)
	default:
		return follow(in, holder)
	}
}

// FenceDeadline is when a primary whose last successful lease renewal was
// sent at lastRenewal must stop accepting writes: lastRenewal + ttl -
// margin. etcd counts the same TTL from when it received that renewal,
// which is later, so the member is read-only before etcd can give the key
// to another member, by at least margin. Zero when it never renewed (the
// deadline has passed).
func FenceDeadline(lastRenewal time.Time, ttl, margin time.Duration) time.Time {
	if lastRenewal.IsZero() {
		return time.Time{}
	}
	return lastRenewal.Add(ttl - margin)
}

// paused: maintenance mode. Nothing automatic; a primary keeps its leader
// key, or takes it back when it is free, so that the cluster keeps a
// leader for the repository server and patronictl.
func paused(in Input) Decision {
	holder := in.Cluster.LeaderName()
	switch {
	case holder == in.Self.Name:
		return Decision{Action: Renew, Reason: "maintenance mode (pause): keeping the leader key, no automatic action"}
	case holder == "" && in.Self.PG.Primary():
		return Decision{Action: Acquire, Reason: "maintenance mode (pause): running as primary, taking the free leader key back"}
	}
	return Decision{Action: Wait, Reason: "maintenance mode (pause): no automatic action"}
}

// selfFence: a primary past its deadline demotes, whatever it believes the
// cluster looks like.
func selfFence(in Input, fenceAt time.Time) Decision {
	var why string
	if fenceAt.IsZero() {
		why = "its lease was never renewed"
	} else {
		why = fmt.Sprintf("its lease was last renewed %s ago; the deadline (last renewal + ttl %s - safety margin %s) passed %s ago",
			in.Now.Sub(in.Self.LastRenewal).Round(time.Millisecond), in.Settings.TTL, in.SafetyMargin,
			in.Now.Sub(fenceAt).Round(time.Millisecond))
	}
	leader := in.Cluster.LeaderName()
	if leader == in.Self.Name {
		leader = ""
	}
	return Decision{Action: Demote, Leader: leader,
		Reason: "self-fence: " + why + ": demoting before etcd can give the leader key to another member"}
}

// manualInPause carries out, in maintenance mode, a switchover or failover
// that names its candidate (the operator's way to move the leader while
// the agents take no automatic action, as in Patroni): the leader hands
// over (or refuses), and the named member takes the free key. ok is false
// when there is none to carry out here.
func manualInPause(in Input, fenceAt time.Time) (Decision, bool) {
	req := in.Cluster.Failover
	if req == nil || req.Member == "" || !req.Due(in.Now) {
		return Decision{}, false
	}
	switch in.Cluster.LeaderName() {
	case in.Self.Name:
		d, ok := handover(in, fenceAt)
		d.Reason = "maintenance mode (pause), manual request: " + d.Reason
		return d, ok
	case "":
		if in.Self.Name != req.Member {
			return Decision{}, false
		}
		e := Elect(in.Cluster, in.Settings, everyone(in), in.Now)
		if e.Winner != in.Self.Name {
			return Decision{}, false
		}
		return Decision{Action: Acquire, FenceAt: fenceAt, Election: e, ClearFailover: true,
			Reason: "maintenance mode (pause), manual request: the leader key is free: " + e.Reason}, true
	}
	return Decision{}, false
}
