package decide

import (
	"fmt"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
)

// CheckRequest says whether a switchover or failover request can be carried
// out now: the election it leads to, and why it is refused ("" when it is
// not). The REST API checks a request with it before writing the failover
// key, `pgkeep ctl` before sending it, and the leader again when it carries
// it out, so that a refused request changes nothing.
//
// A switchover (req.Leader set) needs a leader, and it must be req.Leader.
// A named member (req.Member) must be a member, not the leader, eligible
// (reachable, running, not nofailover, within maximum_lag_on_failover, the
// synchronous standby in synchronous mode) and, while the leader's
// PostgreSQL runs, streaming from it. Without a named member, some other member must be
// able to take over. states are the members' live answers, the leader's
// included.
func CheckRequest(c dcs.Cluster, s dcs.Settings, req dcs.Failover, states []MemberState, now time.Time) (*Election, string) {
	leader := c.LeaderName()
	kind := requestKind(&req)
	switch {
	case req.Empty():
		return nil, "a switchover needs the leader or a candidate, a failover a candidate"
	case req.IsSwitchover() && leader == "":
		return nil, fmt.Sprintf("there is no leader to switch over from (%s named): use a failover", req.Leader)
	case req.IsSwitchover() && req.Leader != leader:
		return nil, fmt.Sprintf("%s is not the leader, %s is", req.Leader, leader)
	case req.Member != "" && req.Member == leader:
		return nil, fmt.Sprintf("%s is the leader already", req.Member)
	}
	if _, ok := c.Member(req.Member); req.Member != "" && !ok {
		return nil, fmt.Sprintf("%s is not a member of the cluster", req.Member)
	}
	// The election as it runs once the leader has left (a failover request
	// naming no leader leaves the current one all the same).
	r := req
	r.ScheduledAt = nil
	if leader != "" {
		r.Leader = leader
	}
	c.Failover = &r
	e := Elect(c, s, states, now)
	if req.Member != "" {
		named, _ := e.Candidate(req.Member)
		if e.Winner != req.Member {
			return e, fmt.Sprintf("%s cannot take over: %s", req.Member, named.Excluded)
		}
		if leaderRuns(states, leader) && !streaming(states, req.Member) {
			return e, fmt.Sprintf("%s cannot take over: it does not stream WAL from the leader %s", req.Member, leader)
		}
		return e, ""
	}
	if e.Winner == "" || e.Winner == leader {
		return e, fmt.Sprintf("no other member can take over for a %s: %s", kind, e.Reason)
	}
	return e, ""
}

// leaderRuns reports whether the leader answered that it runs as primary.
func leaderRuns(states []MemberState, leader string) bool {
	for _, st := range states {
		if st.Name == leader && leader != "" {
			return st.Reachable && st.PG.Primary()
		}
	}
	return false
}

// streaming reports whether the member answered that it streams WAL.
func streaming(states []MemberState, name string) bool {
	for _, st := range states {
		if st.Name == name {
			return st.Reachable && st.PG.Running && st.PG.InRecovery && st.PG.Streaming
		}
	}
	return false
}
