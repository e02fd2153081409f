package decide

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
)

// Elect decides which member should take the free leader key. states are
// the members' answers, this member's own included; a member of the
// cluster without an answer is unreachable and cannot win.
//
// A member is eligible when it answered, is not tagged nofailover (or
// failover_priority <= 0), runs PostgreSQL, is not the leader leaving in a
// switchover, is a synchronous standby in synchronous mode, and is within
// maximum_lag_on_failover of the last known leader position (the status
// key). When a switchover or failover names an eligible member, it wins.
// Otherwise, of the eligible members on the newest timeline, the one with
// the most WAL wins; ties go to the higher failover_priority, then to the
// name that sorts first. Every member agrees on the winner when they see
// the same answers, and etcd's create-if-absent lets only one take the key
// when they do not.
func Elect(c dcs.Cluster, s dcs.Settings, states []MemberState, now time.Time) *Election {
	req := c.Failover
	if req != nil && !req.Due(now) {
		req = nil // scheduled for later; the leader it was for is gone
	}
	cands, states := candidates(c, states)
	ref := referenceLSN(c, states)
	for i := range cands {
		cands[i].Excluded = exclusion(c, s, req, ref, states[i], cands[i])
	}
	e := &Election{Candidates: cands}
	note := stepDownLeader(e, req)
	if req != nil && req.Member != "" {
		named, ok := e.Candidate(req.Member)
		switch {
		case !ok:
			note += fmt.Sprintf("; the requested %s is not a member", req.Member)
		case named.Excluded != "":
			note += fmt.Sprintf("; the requested %s cannot take over: %s", req.Member, named.Excluded)
		default:
			grant(e, req, note)
			return e
		}
	}
	excludeOlderTimelines(e)
	rank(e, note)
	return e
}

// grant makes the member a switchover or failover names the winner.
func grant(e *Election, req *dcs.Failover, note string) {
	what := requestKind(req)
	for i, c := range e.Candidates {
		if c.Excluded == "" && c.Name != req.Member {
			e.Candidates[i].Excluded = fmt.Sprintf("a %s to %s was requested", what, req.Member)
		}
	}
	e.Winner = req.Member
	e.Reason = fmt.Sprintf("%s wins: a %s to it was requested%s", req.Member, what, note)
}

// candidates lists the cluster's members and the answering states, by name,
// with each one's state (zero, unreachable, when it did not answer). The
// LSN and timeline of a member that did not answer are those of its member
// key, for information only.
func candidates(c dcs.Cluster, states []MemberState) ([]Candidate, []MemberState) {
	byName := map[string]MemberState{}
	for _, st := range states {
		byName[st.Name] = st
	}
	var names []string
	for _, m := range c.Members {
		names = append(names, m.Name)
	}
	for _, st := range states {
		names = append(names, st.Name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	cands := make([]Candidate, len(names))
	out := make([]MemberState, len(names))
	for i, name := range names {
		st, answered := byName[name]
		m, _ := c.Member(name)
		if st.Tags == nil {
			st.Tags = m.Data.Tags
		}
		if !answered {
			st = MemberState{Name: name, Tags: m.Data.Tags,
				PG: PG{Timeline: m.Data.Timeline, LSN: pg.LSN(m.Data.XLogLocation)}}
		}
		out[i] = st
		cands[i] = Candidate{Name: name, LSN: st.PG.LSN, Timeline: st.PG.Timeline, Priority: st.Tags.FailoverPriority()}
	}
	return cands, out
}

// referenceLSN is the last known leader position: the status key's, or
// the running leader's own answer when newer (the status key is written
// once a turn, the answer is live).
func referenceLSN(c dcs.Cluster, states []MemberState) pg.LSN {
	ref := pg.LSN(c.Status.Optime)
	for _, st := range states {
		if st.Name == c.LeaderName() && st.Reachable && st.PG.Primary() {
			ref = max(ref, st.PG.LSN)
		}
	}
	return ref
}

// exclusion says why the member cannot take the key on its own account, ""
// when it can; ref is the last known leader position.
func exclusion(c dcs.Cluster, s dcs.Settings, req *dcs.Failover, ref pg.LSN, st MemberState, cand Candidate) string {
	syncMode := s.SynchronousMode && c.Sync != nil && c.Sync.Leader != ""
	isSync := syncMode && (c.Sync.IsSyncStandby(st.Name) || c.Sync.Leader == st.Name)
	switch {
	case !st.Reachable:
		return "not reachable: its REST API did not answer"
	case st.Tags.NoFailover():
		if v, set := st.Tags[dcs.TagNoFailover]; set && v != nil {
			return "tagged nofailover"
		}
		return fmt.Sprintf("failover_priority %d: not a failover candidate", cand.Priority)
	case !st.PG.Running:
		return "PostgreSQL is not running"
	case syncMode && !isSync:
		return fmt.Sprintf("synchronous mode: not the synchronous standby (%s)", c.Sync.SyncStandby)
	}
	if !isSync && ref > st.PG.LSN && uint64(ref-st.PG.LSN) > s.MaximumLagOnFailover {
		return fmt.Sprintf("lags %d bytes behind the last known leader position %s, more than maximum_lag_on_failover %d",
			uint64(ref-st.PG.LSN), ref, s.MaximumLagOnFailover)
	}
	return ""
}

// stepDownLeader excludes the leader that a switchover moves away from,
// unless no other member could take over (then leaving it without a leader
// would be worse than keeping it). It returns a note for the reason.
func stepDownLeader(e *Election, req *dcs.Failover) string {
	if req == nil || req.Leader == "" {
		return ""
	}
	i := slices.IndexFunc(e.Candidates, func(c Candidate) bool { return c.Name == req.Leader })
	if i < 0 || e.Candidates[i].Excluded != "" {
		return ""
	}
	others := slices.ContainsFunc(e.Candidates, func(c Candidate) bool { return c.Name != req.Leader && c.Excluded == "" })
	if !others {
		return fmt.Sprintf("; the switchover away from %s is void: no other member can take over", req.Leader)
	}
	e.Candidates[i].Excluded = "the leader leaving in a switchover"
	return ""
}

// excludeOlderTimelines excludes the eligible members on a timeline older
// than another eligible member's: whatever their LSN, they miss that
// timeline's history.
func excludeOlderTimelines(e *Election) {
	var newest *Candidate
	for i, c := range e.Candidates {
		if c.Excluded == "" && (newest == nil || c.Timeline > newest.Timeline) {
			newest = &e.Candidates[i]
		}
	}
	if newest == nil {
		return
	}
	for i, c := range e.Candidates {
		if c.Excluded == "" && c.Timeline < newest.Timeline {
			e.Candidates[i].Excluded = fmt.Sprintf("on timeline %d, behind %s on timeline %d", c.Timeline, newest.Name, newest.Timeline)
		}
	}
}

// rank picks the winner among the eligible: most WAL, then the higher
// failover_priority, then the name that sorts first.
func rank(e *Election, note string) {
	var eligible []Candidate
	for _, c := range e.Candidates {
		if c.Excluded == "" {
			eligible = append(eligible, c)
		}
	}
	if len(eligible) == 0 {
		e.Reason = "no member can take the leader key: every member is excluded" + note
		return
	}
	slices.SortFunc(eligible, func(a, b Candidate) int {
		return cmp.Or(cmp.Compare(b.LSN, a.LSN), cmp.Compare(b.Priority, a.Priority), cmp.Compare(a.Name, b.Name))
	})
	w := eligible[0]
	e.Winner = w.Name
	for i, c := range e.Candidates {
		if c.Excluded != "" || c.Name == w.Name {
			continue
		}
		switch {
		case c.LSN < w.LSN:
			e.Candidates[i].Excluded = fmt.Sprintf("behind %s: at %s, %d bytes less", w.Name, c.LSN, uint64(w.LSN-c.LSN))
		case c.Priority < w.Priority:
			e.Candidates[i].Excluded = fmt.Sprintf("same LSN as %s, whose failover_priority %d is higher than %d", w.Name, w.Priority, c.Priority)
		default:
			e.Candidates[i].Excluded = fmt.Sprintf("same LSN and failover_priority as %s, whose name sorts first", w.Name)
		}
	}
	e.Reason = fmt.Sprintf("%s wins: the most advanced of %d eligible member(s), at %s on timeline %d%s",
		w.Name, len(eligible), w.LSN, w.Timeline, note)
}

// requestKind names a failover key's request.
func requestKind(f *dcs.Failover) string {
	if f.IsSwitchover() {
		return "switchover"
	}
	return "failover"
}

// everyone returns the peers and this member, in a new slice.
func everyone(in Input) []MemberState {
	return append(append(make([]MemberState, 0, len(in.Peers)+1), in.Peers...), in.Self.MemberState)
}
