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
