package decide

import (
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
)

var (
	t0       = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	settings = dcs.Settings{TTL: 10 * time.Second, LoopWait: time.Second, MaximumLagOnFailover: 1 << 20}
	margin   = 2 * time.Second
)

// Builders for the tables.

func primary(lsn pg.LSN, tli uint32) PG { return PG{Running: true, Timeline: tli, LSN: lsn} }
func replica(lsn pg.LSN, tli uint32) PG {
	return PG{Running: true, InRecovery: true, Timeline: tli, LSN: lsn, Streaming: true}
}
func stopped(lsn pg.LSN, tli uint32) PG { return PG{Timeline: tli, LSN: lsn} }

func peer(name string, p PG, tags dcs.Tags) MemberState {
	return MemberState{Name: name, Reachable: true, PG: p, Tags: tags}
}

func self(name string, p PG, renewedAgo time.Duration, tags dcs.Tags) Self {
	s := Self{MemberState: peer(name, p, tags)}
	if renewedAgo >= 0 {
		s.LastRenewal = t0.Add(-renewedAgo)
	}
	return s
}

// cluster builds a snapshot: leader "" for a free key; members by name with
// their timeline.
func cluster(leader string, members ...string) dcs.Cluster {
	c := dcs.Cluster{Revision: 10, Status: dcs.Status{Optime: 5 << 20}}
	if leader != "" {
		c.Leader = &dcs.Leader{Name: leader, ModRevision: 5, Lease: 1}
	}
	for _, m := range members {
		c.Members = append(c.Members, dcs.Member{Name: m, Data: dcs.MemberData{State: dcs.StateRunning, Timeline: 1}})
	}
	return c
}

func with(c dcs.Cluster, f func(*dcs.Cluster)) dcs.Cluster { f(&c); return c }

type row struct {
	name     string
	cluster  dcs.Cluster
	settings *dcs.Settings // default: settings
	self     Self
	peers    []MemberState
	now      time.Time // default: t0

	action  Action
	leader  string // Decision.Leader
	rewind  bool
	release bool
	start   bool
	clear   bool
	winner  string // Election.Winner, when an election is expected ("-": none)
	reason  string // substring of Reason
	// excluded: member -> substring of its exclusion
	excluded map[string]string
}

func (r row) run(t *testing.T) {
	t.Helper()
	s := settings
	if r.settings != nil {
		s = *r.settings
	}
	now := r.now
	if now.IsZero() {
		now = t0
	}
	in := Input{Cluster: r.cluster, Settings: s, SafetyMargin: margin, Self: r.self, Peers: r.peers, Now: now}
	d := Decide(in)
	t.Logf("%s: %s", d.Action, d.Reason)
	if d.Election != nil {
		for _, c := range d.Election.Candidates {
			t.Logf("  candidate %s lsn=%s tl=%d prio=%d excluded=%q", c.Name, c.LSN, c.Timeline, c.Priority, c.Excluded)
		}
	}
	if d.Action != r.action {
		t.Errorf("action %s, want %s", d.Action, r.action)
	}
	if d.Leader != r.leader || d.Rewind != r.rewind || d.ReleaseKey != r.release || d.Start != r.start || d.ClearFailover != r.clear {
		t.Errorf("leader=%q rewind=%v release=%v start=%v clear=%v; want %q %v %v %v %v",
			d.Leader, d.Rewind, d.ReleaseKey, d.Start, d.ClearFailover, r.leader, r.rewind, r.release, r.start, r.clear)
	}
	if d.Reason == "" || !strings.Contains(d.Reason, r.reason) {
		t.Errorf("reason %q, want it to contain %q", d.Reason, r.reason)
	}
	switch {
	case r.winner == "" && d.Election != nil && r.excluded == nil:
	case r.winner == "":
	case d.Election == nil:
		t.Errorf("no election, want winner %q", r.winner)
	case r.winner == "-" && d.Election.Winner != "", r.winner != "-" && d.Election.Winner != r.winner:
		t.Errorf("winner %q, want %q", d.Election.Winner, r.winner)
	}
	for name, want := range r.excluded {
		c, ok := d.Election.Candidate(name)
		if !ok || !strings.Contains(c.Excluded, want) {
			t.Errorf("candidate %s excluded %q, want %q", name, c.Excluded, want)
		}
	}
	// Every decision that leads carries the fencing deadline.
	if (d.Action == Renew || d.Action == Promote || d.Action == Acquire) && !s.Pause && !r.self.LastRenewal.IsZero() {
		if want := r.self.LastRenewal.Add(s.TTL - margin); !d.FenceAt.Equal(want) {
			t.Errorf("FenceAt %v, want %v", d.FenceAt, want)
		}
	}
}

func TestDecideLeader(t *testing.T) {
	for _, r := range []row{{
		name:    "primary renews",
		cluster: cluster("a", "a", "b"),
		self:    self("a", primary(5<<20, 1), time.Second, nil),
		peers:   []MemberState{peer("b", replica(5<<20, 1), nil)},
		action:  Renew, reason: "renewing",
	}, {
		name:    "primary just before its deadline renews",
		cluster: cluster("a", "a"),
		self:    self("a", primary(5<<20, 1), 8*time.Second-time.Millisecond, nil),
		action:  Renew, reason: "renewing",
	}, {
		name:    "primary at its deadline (renewal + ttl - margin) self-fences",
		cluster: cluster("a", "a"),
		self:    self("a", primary(5<<20, 1), 8*time.Second, nil),
		action:  Demote, reason: "self-fence",
	}, {
		name:    "primary that cannot renew self-fences even though it still sees its key",
		cluster: cluster("a", "a", "b"),
		self:    self("a", primary(5<<20, 1), 9500*time.Millisecond, nil),
		action:  Demote, reason: "deadline (last renewal + ttl 10s - safety margin 2s) passed 1.5s ago",
	}, {
		name:    "primary that never renewed self-fences",
		cluster: cluster("", "a"),
		self:    self("a", primary(5<<20, 1), -1, nil),
		action:  Demote, reason: "never renewed",
	}, {
		name:    "self-fence follows the member the view says leads",
		cluster: cluster("b", "a", "b"),
		self:    self("a", primary(5<<20, 1), 20*time.Second, nil),
		action:  Demote, leader: "b", reason: "self-fence",
	}, {
		name:    "key holder in recovery promotes",
		cluster: cluster("a", "a", "b"),
		self:    self("a", replica(5<<20, 1), time.Second, nil),
		action:  Promote, reason: "promoting",
	}, {
		name:    "key holder whose PostgreSQL died hands over to a healthy replica",
		cluster: cluster("a", "a", "b"),
		self:    self("a", stopped(5<<20, 1), time.Second, nil),
		peers:   []MemberState{peer("b", replica(5<<20, 1), nil)},
		action:  Demote, release: true, winner: "b", reason: "b takes over",
		excluded: map[string]string{"a": "not running"},
	}, {
		name:    "key holder whose PostgreSQL died restarts it when no replica can take over",
		cluster: cluster("a", "a", "b"),
		self:    self("a", stopped(5<<20, 1), time.Second, nil),
		peers:   []MemberState{peer("b", replica(5<<20, 1), dcs.Tags{"nofailover": true})},
		action:  Renew, start: true, winner: "-", reason: "starting it as primary",
	}} {
		t.Run(r.name, r.run)
	}
}

func TestDecideElection(t *testing.T) {
	twoReplicas := cluster("", "a", "b", "c")
	for _, r := range []row{{
		name:    "leader key free: the most advanced healthy replica takes it",
		cluster: twoReplicas,
		self:    self("b", replica(5<<20, 1), time.Second, nil),
		peers:   []MemberState{peer("c", replica(5<<20-100, 1), nil)},
		action:  Acquire, winner: "b", reason: "b wins",
		excluded: map[string]string{"a": "not reachable", "c": "behind b: at 0/4FFF9C, 100 bytes less"},
	}, {
		name:    "a replica behind another reachable one waits for it",
		cluster: twoReplicas,
		self:    self("c", replica(5<<20-100, 1), time.Second, nil),
		peers:   []MemberState{peer("b", replica(5<<20, 1), nil)},
		action:  Wait, winner: "b", reason: "waiting for b",
	}, {
		name:    "an unreachable member does not block the election, however advanced its member key says it is",
		cluster: with(twoReplicas, func(c *dcs.Cluster) { c.Members[2].Data.XLogLocation = 6 << 20 }),
		self:    self("b", replica(5<<20, 1), time.Second, nil),
		peers:   []MemberState{{Name: "c", Reachable: false}},
		action:  Acquire, winner: "b", reason: "b wins",
		excluded: map[string]string{"c": "not reachable"},
	}, {
		name:    "tagged nofailover: never takes the key",
		cluster: twoReplicas,
		self:    self("b", replica(5<<20, 1), time.Second, dcs.Tags{"nofailover": true}),
		peers:   []MemberState{peer("c", replica(5<<20-100, 1), nil)},
		action:  Wait, winner: "c", reason: "waiting for c",
		excluded: map[string]string{"b": "tagged nofailover"},
	}, {
		name:    "failover_priority 0: never takes the key",
		cluster: twoReplicas,
		self:    self("b", replica(5<<20, 1), time.Second, dcs.Tags{"failover_priority": 0.0}),
		peers:   []MemberState{peer("c", replica(5<<20-100, 1), nil)},
		action:  Wait, winner: "c",
		excluded: map[string]string{"b": "failover_priority 0"},
	}, {
		name:    "beyond maximum_lag_on_failover: excluded, even alone",
		cluster: twoReplicas,
		self:    self("b", replica(3<<20, 1), time.Second, nil),
		action:  Wait, winner: "-", reason: "no member can take the leader key",
		excluded: map[string]string{"b": "lags 2097152 bytes behind the last known leader position 0/500000"},
	}, {
		name:    "within maximum_lag_on_failover: may take it",
		cluster: twoReplicas,
		self:    self("b", replica(4<<20, 1), time.Second, nil),
		action:  Acquire, winner: "b",
	}, {
		name:    "same LSN: the higher failover_priority wins",
		cluster: twoReplicas,
		self:    self("b", replica(5<<20, 1), time.Second, nil),
		peers:   []MemberState{peer("c", replica(5<<20, 1), dcs.Tags{"failover_priority": 3.0})},
		action:  Wait, winner: "c",
		excluded: map[string]string{"b": "whose failover_priority 3 is higher than 1"},
	}, {
		name:    "same LSN and priority: the name that sorts first wins",
		cluster: twoReplicas,
		self:    self("c", replica(5<<20, 1), time.Second, nil),
		peers:   []MemberState{peer("b", replica(5<<20, 1), nil)},
		action:  Wait, winner: "b",
		excluded: map[string]string{"c": "whose name sorts first"},
	}, {
		name:    "more WAL beats a higher priority",
		cluster: twoReplicas,
		self:    self("b", replica(5<<20+1, 1), time.Second, nil),
		peers:   []MemberState{peer("c", replica(5<<20, 1), dcs.Tags{"failover_priority": 9.0})},
		action:  Acquire, winner: "b",
	}, {
		name:    "an older timeline loses whatever its LSN",
		cluster: twoReplicas,
		self:    self("b", replica(5<<20+500, 1), time.Second, nil),
		peers:   []MemberState{peer("c", replica(5<<20, 2), nil)},
		action:  Wait, winner: "c",
		excluded: map[string]string{"b": "on timeline 1, behind c on timeline 2"},
	}, {
		name: "synchronous mode: only the synchronous standby may take it",
		cluster: with(twoReplicas, func(c *dcs.Cluster) {
			c.Sync = &dcs.SyncState{Leader: "a", SyncStandby: "c"}
		}),
		settings: &dcs.Settings{TTL: 10 * time.Second, MaximumLagOnFailover: 1 << 20, SynchronousMode: true},
		self:     self("b", replica(5<<20+500, 1), time.Second, nil),
		peers:    []MemberState{peer("c", replica(5<<20, 1), nil)},
		action:   Wait, winner: "c",
		excluded: map[string]string{"b": "not the synchronous standby"},
	}, {
		name: "synchronous mode: the synchronous standby takes it, lag notwithstanding",
		cluster: with(twoReplicas, func(c *dcs.Cluster) {
			c.Sync = &dcs.SyncState{Leader: "a", SyncStandby: "c"}
		}),
		settings: &dcs.Settings{TTL: 10 * time.Second, MaximumLagOnFailover: 1 << 20, SynchronousMode: true},
		self:     self("c", replica(1<<20, 1), time.Second, nil),
		peers:    []MemberState{peer("b", replica(5<<20, 1), nil)},
		action:   Acquire, winner: "c",
	}, {
		name:    "a stopped member starts read-only to take part",
		cluster: twoReplicas,
		self:    self("b", stopped(5<<20, 1), time.Second, nil),
		peers:   []MemberState{peer("c", replica(5<<20, 1), nil)},
		action:  Follow, start: true, winner: "c", reason: "starting PostgreSQL read-only",
		excluded: map[string]string{"b": "not running"},
	}, {
		name:    "a primary without the key that does not win demotes",
		cluster: twoReplicas,
		self:    self("b", primary(5<<20, 1), time.Second, dcs.Tags{"nofailover": true}),
		peers:   []MemberState{peer("c", replica(5<<20, 1), nil)},
		action:  Demote, winner: "c", reason: "does not win",
	}, {
		name:    "a primary whose key vanished while its lease lives takes it back",
		cluster: twoReplicas,
		self:    self("a", primary(6<<20, 1), time.Second, nil),
		peers:   []MemberState{peer("b", replica(5<<20, 1), nil)},
		action:  Acquire, winner: "a",
	}} {
		t.Run(r.name, r.run)
	}
}

func TestDecideFollow(t *testing.T) {
	leaderOn := func(tli uint32, history ...dcs.HistoryEntry) dcs.Cluster {
		c := cluster("a", "a", "b")
		c.Members[0].Data.Timeline = tli
		c.Members[0].Data.Role = dcs.RolePrimary
		if history != nil {
			c.History = &dcs.History{Entries: history}
		}
		return c
	}
	for _, r := range []row{{
		name:    "a replica follows the leader",
		cluster: leaderOn(1),
		self:    self("b", replica(5<<20, 1), time.Second, nil),
		action:  Follow, leader: "a", reason: "following the leader a",
	}, {
		name:    "a stopped replica starts following the leader",
		cluster: leaderOn(1),
		self:    self("b", stopped(5<<20, 1), time.Second, nil),
		action:  Follow, leader: "a", start: true,
	}, {
		name:    "a primary that sees another leader demotes at once",
		cluster: leaderOn(2),
		self:    self("b", primary(5<<20, 1), time.Second, nil),
		action:  Demote, leader: "a", reason: "two primaries must never accept writes",
	}, {
		name:    "an old primary with WAL past the switch point rewinds",
		cluster: leaderOn(2, dcs.HistoryEntry{Timeline: 1, LSN: 4 << 20}),
		self:    self("b", stopped(5<<20, 1), time.Second, nil),
		action:  Follow, leader: "a", start: true, rewind: true, reason: "past the leader's switch away from it at 0/400000",
	}, {
		name:    "a replica behind the switch point follows without rewind",
		cluster: leaderOn(2, dcs.HistoryEntry{Timeline: 1, LSN: 6 << 20}),
		self:    self("b", replica(5<<20, 1), time.Second, nil),
		action:  Follow, leader: "a",
	}, {
		name:    "a member on a timeline the leader does not have rewinds",
		cluster: leaderOn(2),
		self:    self("b", stopped(5<<20, 3), time.Second, nil),
		action:  Follow, leader: "a", start: true, rewind: true, reason: "on timeline 3, the leader on 2",
	}, {
		name:    "the leader's member key still shows its old timeline, the history key the new one: no rewind",
		cluster: leaderOn(1, dcs.HistoryEntry{Timeline: 1, LSN: 6 << 20}),
		self:    self("b", replica(7<<20, 2), time.Second, nil),
		action:  Follow, leader: "a", reason: "following the leader a",
	}, {
		name: "a leader whose PostgreSQL is not running is never rewound against",
		cluster: with(leaderOn(1), func(c *dcs.Cluster) {
			c.Members = append([]dcs.Member(nil), c.Members...)
			c.Members[0].Data.State = dcs.StateStopped
		}),
		self:   self("b", replica(5<<20, 2), time.Second, nil),
		action: Follow, leader: "a", reason: "not running: no rewind",
	}, {
		name: "a leader whose key predates its promotion is never rewound against",
		cluster: with(leaderOn(1), func(c *dcs.Cluster) {
			c.Members = append([]dcs.Member(nil), c.Members...)
			c.Members[0].Data.Role = dcs.RoleReplica
		}),
		self:   self("b", replica(5<<20, 2), time.Second, nil),
		action: Follow, leader: "a", reason: "does not show it as primary yet",
	}, {
		name:    "an older timeline without history: rewind (the switch point is unknown)",
		cluster: leaderOn(2),
		self:    self("b", replica(5<<20, 1), time.Second, nil),
		action:  Follow, leader: "a", rewind: true, reason: "switch point is unknown",
	}} {
		t.Run(r.name, r.run)
	}
}

func TestDecidePaused(t *testing.T) {
	pause := dcs.Settings{TTL: 10 * time.Second, MaximumLagOnFailover: 1 << 20, Pause: true}
	for _, r := range []row{{
		name:    "paused: a replica does nothing when the key is free",
		cluster: cluster("", "a", "b"), settings: &pause,
		self:   self("b", replica(5<<20, 1), time.Second, nil),
		action: Wait, reason: "maintenance mode",
	}, {
		name:    "paused: the primary keeps its key and never self-fences",
		cluster: cluster("a", "a", "b"), settings: &pause,
		self:   self("a", primary(5<<20, 1), time.Minute, nil),
		action: Renew, reason: "no automatic action",
	}, {
		name:    "paused: a primary takes its free key back",
		cluster: cluster("", "a"), settings: &pause,
		self:   self("a", primary(5<<20, 1), time.Second, nil),
		action: Acquire, reason: "taking the free leader key back",
	}, {
		name:    "paused: a dead leader hands over to the candidate of a failover",
		cluster: with(cluster("a", "a", "b"), func(c *dcs.Cluster) { c.Failover = &dcs.Failover{Member: "b"} }), settings: &pause,
		self:   self("a", stopped(5<<20, 1), time.Second, nil),
		peers:  []MemberState{peer("b", replica(5<<20, 1), nil)},
		action: Demote, leader: "b", release: true, winner: "b", reason: "maintenance mode (pause), manual request: failover to b",
	}, {
		name:    "paused: the leader refuses a failover to a lagging candidate",
		cluster: with(cluster("a", "a", "b"), func(c *dcs.Cluster) { c.Failover = &dcs.Failover{Member: "b"} }), settings: &pause,
		self:   self("a", primary(5<<20, 1), time.Second, nil),
		peers:  []MemberState{peer("b", replica(1<<20, 1), nil)},
		action: Renew, clear: true, reason: "refusing the failover: b cannot take over",
	}, {
		name:    "paused: the candidate of a failover takes the free key",
		cluster: with(cluster("", "a", "b"), func(c *dcs.Cluster) { c.Failover = &dcs.Failover{Leader: "a", Member: "b"} }), settings: &pause,
		self:   self("b", replica(5<<20, 1), time.Second, nil),
		peers:  []MemberState{peer("a", replica(5<<20, 1), nil)},
		action: Acquire, clear: true, winner: "b", reason: "manual request",
	}, {
		name:    "paused: another member does not take the key the request names a candidate for",
		cluster: with(cluster("", "a", "b", "c"), func(c *dcs.Cluster) { c.Failover = &dcs.Failover{Member: "b"} }), settings: &pause,
		self:   self("c", replica(6<<20, 1), time.Second, nil),
		peers:  []MemberState{peer("a", replica(5<<20, 1), nil), peer("b", replica(5<<20, 1), nil)},
		action: Wait, reason: "maintenance mode",
	}, {
		name:    "paused: a switchover without a candidate is not carried out",
		cluster: with(cluster("a", "a", "b"), func(c *dcs.Cluster) { c.Failover = &dcs.Failover{Leader: "a"} }), settings: &pause,
		self:   self("a", primary(5<<20, 1), time.Second, nil),
		peers:  []MemberState{peer("b", replica(5<<20, 1), nil)},
		action: Renew, reason: "no automatic action",
	}, {
		name:    "paused: a primary that sees another leader is left alone",
		cluster: cluster("b", "a", "b"), settings: &pause,
		self:   self("a", primary(5<<20, 1), time.Second, nil),
		action: Wait, reason: "maintenance mode",
	}} {
		t.Run(r.name, r.run)
	}
}

func TestDecideSwitchover(t *testing.T) {
	switchover := func(leader, from, to string, at *time.Time) dcs.Cluster {
		c := cluster(leader, "a", "b", "c")
		c.Failover = &dcs.Failover{ModRevision: 9, Leader: from, Member: to, ScheduledAt: at}
		return c
	}
	later := t0.Add(time.Hour)
	healthy := []MemberState{peer("b", replica(5<<20, 1), nil), peer("c", replica(5<<20, 1), nil)}
	for _, r := range []row{{
		name:    "switchover to b: the leader demotes and hands over the key",
		cluster: switchover("a", "a", "b", nil),
		self:    self("a", primary(5<<20, 1), time.Second, nil),
		peers:   healthy,
		action:  Demote, leader: "b", release: true, winner: "b", reason: "switchover to b",
		excluded: map[string]string{"a": "leaving in a switchover", "c": "a switchover to b was requested"},
	}, {
		name:    "switchover to any member: the best other member",
		cluster: switchover("a", "a", "", nil),
		self:    self("a", primary(5<<20, 1), time.Second, nil),
		peers:   []MemberState{peer("b", replica(5<<20-10, 1), nil), peer("c", replica(5<<20, 1), nil)},
		action:  Demote, leader: "c", release: true, winner: "c",
	}, {
		name:    "manual failover to b while the leader lives: handed over too",
		cluster: switchover("a", "", "b", nil),
		self:    self("a", primary(5<<20, 1), time.Second, nil),
		peers:   healthy,
		action:  Demote, leader: "b", release: true, winner: "b", reason: "failover to b",
	}, {
		name:    "switchover to a lagging member is refused and dropped",
		cluster: switchover("a", "a", "b", nil),
		self:    self("a", primary(5<<20, 1), time.Second, nil),
		peers:   []MemberState{peer("b", replica(1<<20, 1), nil), peer("c", replica(5<<20, 1), nil)},
		action:  Renew, clear: true, reason: "refusing the switchover: b cannot take over: lags 4194304 bytes",
	}, {
		name:    "switchover to an unknown member is refused",
		cluster: switchover("a", "a", "zed", nil),
		self:    self("a", primary(5<<20, 1), time.Second, nil),
		peers:   healthy,
		action:  Renew, clear: true, reason: "zed is not a member",
	}, {
		name:    "switchover with nobody able to take over is refused",
		cluster: switchover("a", "a", "", nil),
		self:    self("a", primary(5<<20, 1), time.Second, nil),
		peers:   []MemberState{{Name: "b"}, {Name: "c"}},
		action:  Renew, clear: true, reason: "refusing the switchover: no other member can take over",
	}, {
		name:    "a scheduled switchover waits for its time",
		cluster: switchover("a", "a", "b", &later),
		self:    self("a", primary(5<<20, 1), time.Second, nil),
		peers:   healthy,
		action:  Renew, reason: "renewing the lease",
	}, {
		name:    "a switchover away from another member is dropped",
		cluster: switchover("a", "c", "b", nil),
		self:    self("a", primary(5<<20, 1), time.Second, nil),
		peers:   healthy,
		action:  Renew, clear: true, reason: "not the leader",
	}, {
		name:    "after the handover the named member takes the key and clears the request",
		cluster: switchover("", "a", "b", nil),
		self:    self("b", replica(5<<20, 1), time.Second, nil),
		peers:   []MemberState{peer("a", replica(5<<20, 1), nil), peer("c", replica(5<<20, 1), nil)},
		action:  Acquire, clear: true, winner: "b", reason: "a switchover to it was requested",
	}, {
		name:    "after the handover the other members wait for the named one",
		cluster: switchover("", "a", "b", nil),
		self:    self("c", replica(5<<20, 1), time.Second, nil),
		peers:   []MemberState{peer("a", replica(5<<20, 1), nil), peer("b", replica(5<<20, 1), nil)},
		action:  Wait, winner: "b",
	}, {
		name:    "after the handover the old leader does not take the key back",
		cluster: switchover("", "a", "b", nil),
		self:    self("a", replica(5<<20, 1), time.Second, nil),
		peers:   []MemberState{peer("b", replica(5<<20, 1), nil), peer("c", replica(5<<20, 1), nil)},
		action:  Wait, winner: "b",
		excluded: map[string]string{"a": "leaving in a switchover"},
	}, {
		name:    "the named member gone: the best other member, never the old leader",
		cluster: switchover("", "a", "b", nil),
		self:    self("c", replica(5<<20, 1), time.Second, nil),
		peers:   []MemberState{peer("a", replica(5<<20, 1), nil), {Name: "b"}},
		action:  Acquire, clear: true, winner: "c", reason: "the requested b cannot take over: not reachable",
	}, {
		name:    "the old leader alone may take its key back",
		cluster: switchover("", "a", "b", nil),
		self:    self("a", replica(5<<20, 1), time.Second, nil),
		peers:   []MemberState{{Name: "b"}, {Name: "c"}},
		action:  Acquire, clear: true, winner: "a", reason: "is void",
	}} {
		t.Run(r.name, r.run)
	}
}

// Elect alone is what `pgkeep ctl failover --dry-run` prints: every member
// with why it cannot win.
func TestElectExplainsEveryCandidate(t *testing.T) {
	c := cluster("", "a", "b", "c", "d", "e")
	e := Elect(c, settings, []MemberState{
		peer("b", replica(5<<20, 1), nil),
		peer("c", replica(5<<20, 1), dcs.Tags{"nofailover": true}),
		peer("d", stopped(5<<20, 1), nil),
		peer("e", replica(5<<20-8, 1), nil),
	}, t0)
	if e.Winner != "b" {
		t.Fatalf("winner %q: %s", e.Winner, e.Reason)
	}
	want := map[string]string{"a": "not reachable", "b": "", "c": "tagged nofailover", "d": "not running", "e": "behind b"}
	if len(e.Candidates) != len(want) {
		t.Fatalf("candidates %+v", e.Candidates)
	}
	for _, cand := range e.Candidates {
		if w := want[cand.Name]; (w == "") != (cand.Excluded == "") || !strings.Contains(cand.Excluded, w) {
			t.Errorf("%s excluded %q, want %q", cand.Name, cand.Excluded, w)
		}
	}
}
