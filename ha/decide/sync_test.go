package decide

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
)

func TestSyncNext(t *testing.T) {
	syncOn := dcs.Settings{SynchronousMode: true}
	strict := dcs.Settings{SynchronousMode: true, SynchronousModeStrict: true}
	key := func(leader, standby string) *dcs.SyncState {
		return &dcs.SyncState{ModRevision: 7, Leader: leader, SyncStandby: standby}
	}
	members := cluster("a", "a", "b", "c").Members
	tagged := func(name string, tags dcs.Tags) []dcs.Member {
		out := append([]dcs.Member(nil), members...)
		for i := range out {
			if out[i].Name == name {
				out[i].Data.Tags = tags
			}
		}
		return out
	}
	streaming := func(name string, flush uint64, sync, ready bool) Standby {
		return Standby{Name: name, Streaming: true, Sync: sync, Flush: pg.LSN(flush), Ready: ready}
	}
	for _, r := range []struct {
		name    string
		in      SyncInput
		action  SyncAction
		standby string
		star    bool
		reason  string
	}{{
		name:   "synchronous mode off, nothing set: nothing to do",
		in:     SyncInput{Settings: dcs.Settings{}, Names: []string{"b"}},
		action: SyncKeep,
	}, {
		name:   "synchronous mode off: the sync key goes",
		in:     SyncInput{Key: key("a", "b"), Names: []string{"b"}, NamesManaged: true},
		action: SyncDeleteKey,
	}, {
		name:   "synchronous mode off: then the names the agent set go",
		in:     SyncInput{Names: []string{"b"}, NamesManaged: true},
		action: SyncSetNames, standby: "", reason: "clearing",
	}, {
		name:   "no sync key: this primary takes it, with no standby",
		in:     SyncInput{Self: "a", Settings: syncOn, Members: members, Standbys: []Standby{streaming("b", 100, false, false)}},
		action: SyncWriteKey, standby: "",
	}, {
		name:   "a key naming another leader (a failover): taken over with no standby, whoever it named",
		in:     SyncInput{Self: "b", Settings: syncOn, Key: key("a", "b"), Members: members},
		action: SyncWriteKey, standby: "", reason: "does not name this primary",
	}, {
		name:   "adding: N first",
		in:     SyncInput{Self: "a", Settings: syncOn, Key: key("a", ""), Members: members, Standbys: []Standby{streaming("b", 100, false, false)}},
		action: SyncSetNames, standby: "b", reason: "naming b",
	}, {
		name:   "adding: named but not synchronous yet: wait, K unchanged",
		in:     SyncInput{Self: "a", Settings: syncOn, Key: key("a", ""), Members: members, Names: []string{"b"}, Standbys: []Standby{streaming("b", 100, false, false)}},
		action: SyncWait, standby: "b",
	}, {
		name:   "adding: synchronous but not caught up with what was acknowledged before: wait",
		in:     SyncInput{Self: "a", Settings: syncOn, Key: key("a", ""), Members: members, Names: []string{"b"}, Standbys: []Standby{streaming("b", 100, true, false)}},
		action: SyncWait, standby: "b", reason: "flush what was acknowledged",
	}, {
		name:   "adding: synchronous and caught up: then K",
		in:     SyncInput{Self: "a", Settings: syncOn, Key: key("a", ""), Members: members, Names: []string{"b"}, Standbys: []Standby{streaming("b", 100, true, true)}},
		action: SyncWriteKey, standby: "b",
	}, {
		name: "steady: nothing to do",
		in: SyncInput{Self: "a", Settings: syncOn, Key: key("a", "b"), Members: members, Names: []string{"b"},
			Standbys: []Standby{streaming("b", 100, true, true), streaming("c", 200, false, false)}},
		action: SyncKeep, standby: "b",
	}, {
		name: "the synchronous standby stays while it streams, though another is further",
		in: SyncInput{Self: "a", Settings: syncOn, Key: key("a", "c"), Members: members, Names: []string{"c"},
			Standbys: []Standby{streaming("b", 900, false, false), streaming("c", 100, true, true)}},
		action: SyncKeep, standby: "c",
	}, {
		name:   "dropping: the synchronous standby is gone: K first, names unchanged",
		in:     SyncInput{Self: "a", Settings: syncOn, Key: key("a", "b"), Members: members, Names: []string{"b"}, Standbys: []Standby{streaming("c", 100, false, false)}},
		action: SyncWriteKey, standby: "", reason: "removing it from the sync key first",
	}, {
		name:   "dropping: then N names the replacement",
		in:     SyncInput{Self: "a", Settings: syncOn, Key: key("a", ""), Members: members, Names: []string{"b"}, Standbys: []Standby{streaming("c", 100, false, false)}},
		action: SyncSetNames, standby: "c",
	}, {
		name: "dropping: a standby tagged nosync meanwhile: K first",
		in: SyncInput{Self: "a", Settings: syncOn, Key: key("a", "b"), Members: tagged("b", dcs.Tags{"nosync": true}), Names: []string{"b"},
			Standbys: []Standby{streaming("b", 100, true, true), streaming("c", 100, false, false)}},
		action: SyncWriteKey, standby: "", reason: "tagged nosync",
	}, {
		name:   "a standby not in N (it was '*') is not kept in K",
		in:     SyncInput{Self: "a", Settings: syncOn, Key: key("a", "b"), Members: members, Star: true, Standbys: []Standby{streaming("b", 100, true, true)}},
		action: SyncWriteKey, standby: "", reason: "not synchronous any more",
	}, {
		name: "a key naming two standbys keeps the one that stays",
		in: SyncInput{Self: "a", Settings: syncOn, Key: key("a", "b,c"), Members: members, Names: []string{"b"},
			Standbys: []Standby{streaming("b", 100, true, true), streaming("c", 100, false, false)}},
		action: SyncWriteKey, standby: "b", reason: "several",
	}, {
		name:   "no standby, not strict: asynchronous",
		in:     SyncInput{Self: "a", Settings: syncOn, Key: key("a", ""), Members: members, Names: []string{"b"}},
		action: SyncSetNames, standby: "", star: false, reason: "asynchronously",
	}, {
		name:   "no standby, not strict, already asynchronous: keep",
		in:     SyncInput{Self: "a", Settings: syncOn, Key: key("a", ""), Members: members},
		action: SyncKeep,
	}, {
		name:   "no standby, strict: '*', writes wait",
		in:     SyncInput{Self: "a", Settings: strict, Key: key("a", ""), Members: members, Names: []string{"b"}},
		action: SyncSetNames, star: true, reason: "writes wait",
	}, {
		name:   "strict, a standby comes: named",
		in:     SyncInput{Self: "a", Settings: strict, Key: key("a", ""), Members: members, Star: true, Standbys: []Standby{streaming("c", 100, true, false)}},
		action: SyncSetNames, standby: "c",
	}, {
		name: "only members, streaming, not nosync, not itself",
		in: SyncInput{Self: "a", Settings: syncOn, Key: key("a", ""), Members: tagged("c", dcs.Tags{"nosync": "true"}), Names: []string{"c"},
			Standbys: []Standby{{Name: "b", Flush: 100}, streaming("c", 100, false, false), streaming("pgkeep", 900, false, false), streaming("a", 900, false, false)}},
		action: SyncSetNames, standby: "", reason: "b: not streaming; c: tagged nosync; pgkeep: not a member",
	}, {
		name: "the pick: a member that may fail over before one that may not",
		in: SyncInput{Self: "a", Settings: syncOn, Key: key("a", ""), Members: tagged("b", dcs.Tags{"nofailover": true}),
			Standbys: []Standby{streaming("b", 900, false, false), streaming("c", 100, false, false)}},
		action: SyncSetNames, standby: "c",
	}, {
		name: "the pick: the higher failover_priority, then more WAL",
		in: SyncInput{Self: "a", Settings: syncOn, Key: key("a", ""), Members: tagged("b", dcs.Tags{"failover_priority": 2.0}),
			Standbys: []Standby{streaming("b", 100, false, false), streaming("c", 900, false, false)}},
		action: SyncSetNames, standby: "b",
	}, {
		name: "the pick: the most WAL flushed",
		in: SyncInput{Self: "a", Settings: syncOn, Key: key("a", ""), Members: members,
			Standbys: []Standby{streaming("b", 100, false, false), streaming("c", 900, false, false)}},
		action: SyncSetNames, standby: "c",
	}, {
		name: "names compare case-insensitively, as PostgreSQL's",
		in: SyncInput{Self: "a", Settings: syncOn, Key: key("A", "B"), Members: members, Names: []string{"B"},
			Standbys: []Standby{streaming("b", 100, true, true)}},
		action: SyncKeep, standby: "B",
	}} {
		t.Run(r.name, func(t *testing.T) {
			got := SyncNext(r.in)
			t.Logf("%s %q star=%v: %s", got.Action, got.Standby, got.Star, got.Reason)
			if got.Action != r.action || got.Standby != r.standby || got.Star != r.star {
				t.Errorf("got %s %q star=%v, want %s %q star=%v", got.Action, got.Standby, got.Star, r.action, r.standby, r.star)
			}
			if got.Reason == "" || !strings.Contains(got.Reason, r.reason) {
				t.Errorf("reason %q, want it to contain %q", got.Reason, r.reason)
			}
		})
	}
}

// The invariant, checked over every short history: whatever the standbys
// do between the primary's steps (connect, disconnect, catch up) and
// whenever commits are acknowledged, the sync key only names standbys that
// have flushed every acknowledged commit. PostgreSQL is modelled: a commit
// is acknowledged once the standby synchronous_standby_names names has
// flushed it (never while that one is away), once any streaming standby has
// with '*', at once when it names none.
func TestSyncNextKeepsTheInvariant(t *testing.T) {
	members := cluster("a", "a", "b", "c").Members
	names := []string{"b", "c"}
	const events, bits = 4, 3 // per event: 2 bits of what happens, 1 of how many steps the primary takes after
	for _, strict := range []bool{false, true} {
		for mask := range 1 << (events * bits) {
			key := &dcs.SyncState{Leader: "a"}
			var n []string
			var star bool
			var up, hasAll, ready [2]bool // streaming; flushed every acknowledged commit; caught up since named
			hasAll = [2]bool{true, true}
			var history []func() string // formatted only on failure
			check := func() {
				for _, k := range key.Standbys() {
					if i := slices.Index(names, k); !hasAll[i] {
						t.Fatalf("strict=%v: the sync key names %s, which lacks an acknowledged commit; history:\n%s", strict, k, render(history))
					}
				}
			}
			for e := range events {
				code := mask >> (e * bits)
				switch code & 3 {
				case 0, 1: // b or c connects or disconnects
					i := code & 3
					up[i], ready[i] = !up[i], false
					name, u := names[i], up[i]
					history = append(history, func() string { return fmt.Sprintf("%s up=%v", name, u) })
				case 2: // the streaming standbys catch up
					for i := range names {
						if up[i] {
							hasAll[i] = true
							ready[i] = named(n, names[i])
						}
					}
					history = append(history, func() string { return "standbys catch up" })
				case 3: // a commit
					var by = -1 // the standby whose flush acknowledges it
					switch {
					case star:
						by = slices.Index(up[:], true)
					case len(n) == 1:
						if by = slices.Index(names, n[0]); !up[by] {
							by = -1
						}
					}
					if by < 0 && (star || len(n) > 0) {
						history = append(history, func() string { return "a commit waits" })
						break
					}
					for i := range names {
						hasAll[i] = i == by
					}
					nn, ss := n, star
					history = append(history, func() string { return fmt.Sprintf("a commit is acknowledged (N=%v star=%v)", nn, ss) })
				}
				check()
				for range 1 + 2*(code>>2&1) {
					var sbs []Standby
					for i, nm := range names {
						if up[i] {
							sbs = append(sbs, Standby{Name: nm, Streaming: true, Sync: named(n, nm), Ready: ready[i]})
						}
					}
					st := SyncNext(SyncInput{Self: "a", Settings: dcs.Settings{SynchronousMode: true, SynchronousModeStrict: strict},
						Key: key, Members: members, Names: n, Star: star, Standbys: sbs})
					switch st.Action {
					case SyncWriteKey:
						key = &dcs.SyncState{Leader: "a", SyncStandby: st.Standby}
					case SyncSetNames:
						n, star = nil, st.Star
						if st.Standby != "" {
							n = []string{st.Standby}
						}
						ready = [2]bool{}
					}
					history = append(history, func() string { return fmt.Sprintf("  primary: %s %q star=%v", st.Action, st.Standby, st.Star) })
					check()
				}
			}
		}
	}
}

func render(history []func() string) string {
	var b strings.Builder
	for _, h := range history {
		b.WriteString(h() + "\n")
	}
	return b.String()
}

func TestDecideSynchronousElection(t *testing.T) {
	syncOn := &dcs.Settings{TTL: 10 * time.Second, MaximumLagOnFailover: 1 << 20, SynchronousMode: true}
	keyed := func(standby string) dcs.Cluster {
		return with(cluster("", "a", "b", "c"), func(c *dcs.Cluster) { c.Sync = &dcs.SyncState{Leader: "a", SyncStandby: standby} })
	}
	for _, r := range []row{{
		name:     "a sync key naming no standby: no replica may take over",
		cluster:  keyed(""),
		settings: syncOn,
		self:     self("b", replica(5<<20, 1), time.Second, nil),
		peers:    []MemberState{peer("c", replica(5<<20, 1), nil)},
		action:   Wait, winner: "-",
		excluded: map[string]string{"b": "not the synchronous standby", "c": "not the synchronous standby", "a": "not reachable"},
	}, {
		name:     "the old leader named in the sync key may take its key back",
		cluster:  keyed(""),
		settings: syncOn,
		self:     self("a", replica(5<<20, 1), time.Second, nil),
		peers:    []MemberState{peer("b", replica(5<<20, 1), nil), peer("c", replica(5<<20, 1), nil)},
		action:   Acquire, winner: "a",
	}, {
		name:     "the synchronous standby wins over a replica with more WAL",
		cluster:  keyed("c"),
		settings: syncOn,
		self:     self("c", replica(5<<20, 1), time.Second, nil),
		peers:    []MemberState{peer("b", replica(6<<20, 1), nil)},
		action:   Acquire, winner: "c",
		excluded: map[string]string{"b": "not the synchronous standby (c)"},
	}, {
		name:     "synchronous mode without a sync key yet: an ordinary election",
		cluster:  cluster("", "a", "b", "c"),
		settings: syncOn,
		self:     self("b", replica(5<<20, 1), time.Second, nil),
		peers:    []MemberState{peer("c", replica(5<<20-1, 1), nil)},
		action:   Acquire, winner: "b",
	}, {
		name:    "synchronous mode off: the sync key is ignored",
		cluster: keyed("c"),
		self:    self("b", replica(5<<20, 1), time.Second, nil),
		peers:   []MemberState{peer("c", replica(5<<20-1, 1), nil)},
		action:  Acquire, winner: "b",
	}} {
		t.Run(r.name, r.run)
	}
}
