package dcs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pgkeep/pgkeep/test/harness"
)

// newMember returns the DCS of member name on its own etcd client, with
// its lease granted.
func newMember(t *testing.T, e *harness.Etcd, name string, ttl time.Duration) *DCS {
	t.Helper()
	d, err := New(Options{Client: e.NewClient(t), Cluster: "main", Name: name, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.KeepAlive(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Revoke(context.Background()) })
	return d
}

func memberData(name string) MemberData {
	return MemberData{
		ConnURL: "postgres://127.0.0.1:5432/postgres?" + name,
		APIURL:  "http://127.0.0.1:8008/" + name,
		State:   StateRunning, Role: RoleReplica,
	}
}

func get(t *testing.T, e *harness.Etcd, key string) (string, bool) {
	t.Helper()
	resp, err := e.Client.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return "", false
	}
	return string(resp.Kvs[0].Value), true
}

// Of N members racing for a free leader key, exactly one gets it, in every
// round.
func TestAcquireLeaderExactlyOne(t *testing.T) {
	e := harness.StartEtcd(t)
	ctx := context.Background()
	const n = 8
	members := make([]*DCS, n)
	for i := range members {
		members[i] = newMember(t, e, fmt.Sprintf("m%d", i), 10*time.Second)
	}
	for round := range 5 {
		start := make(chan struct{})
		won := make([]bool, n)
		holders := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, d := range members {
			wg.Go(func() {
				<-start
				won[i], holders[i], errs[i] = d.AcquireLeader(ctx)
			})
		}
		close(start)
		wg.Wait()
		winner := ""
		for i := range members {
			if errs[i] != nil {
				t.Fatalf("round %d, m%d: %v", round, i, errs[i])
			}
			if won[i] {
				if winner != "" {
					t.Fatalf("round %d: both %s and m%d took the leader key", round, winner, i)
				}
				winner = fmt.Sprintf("m%d", i)
			}
		}
		if winner == "" {
			t.Fatalf("round %d: nobody took the free leader key", round)
		}
		for i := range members {
			if holders[i] != winner {
				t.Errorf("round %d: m%d sees holder %q, want %q", round, i, holders[i], winner)
			}
		}
		if v, _ := get(t, e, members[0].Keys().Leader()); v != winner {
			t.Fatalf("round %d: leader key holds %q, want %q", round, v, winner)
		}
		var w *DCS
		for _, d := range members {
			if d.Name() == winner {
				w = d
			}
		}
		if err := w.UpdateLeader(ctx); err != nil {
			t.Fatalf("round %d: the winner's update: %v", round, err)
		}
		if ok, err := w.ReleaseLeader(ctx); !ok || err != nil {
			t.Fatalf("round %d: release: %v %v", round, ok, err)
		}
	}
}

// A member whose lease expires loses its member key and the leader key,
// finds out on its next renewal, and then gets a new lease that holds
// nothing.
func TestLeaseExpiryLosesKeys(t *testing.T) {
	e := harness.StartEtcd(t)
	ctx := context.Background()
	d := newMember(t, e, "a", time.Second)
	if err := d.TouchMember(ctx, memberData("a")); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := d.AcquireLeader(ctx); !ok || err != nil {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	c, err := d.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.LeaderName() != "a" || c.Leader.Lease != int64(d.Lease()) || len(c.Members) != 1 || c.Members[0].Lease != int64(d.Lease()) {
		t.Fatalf("before expiry: %+v", c)
	}
	// No renewals: etcd expires the lease (its minimum TTL may be above 1 s).
	harness.Wait(t, 15*time.Second, "the lease to expire and its keys to go", func() (bool, error) {
		c, err := d.Cluster(ctx)
		return err == nil && c.Leader == nil && len(c.Members) == 0, err
	})
	if _, err := d.KeepAlive(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("renewal after expiry: want ErrLeaseLost, got %v", err)
	}
	if err := d.TouchMember(ctx, memberData("a")); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("write without a lease: want ErrLeaseLost, got %v", err)
	}
	r, err := d.KeepAlive(ctx)
	if err != nil || !r.Granted {
		t.Fatalf("the next renewal grants a new lease: %+v %v", r, err)
	}
	if err := d.UpdateLeader(ctx); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("update after the key expired: want ErrNotLeader, got %v", err)
	}
}

// A write with a lease etcd no longer knows fails with ErrLeaseLost and the
// lease is forgotten.
func TestWriteWithRevokedLease(t *testing.T) {
	e := harness.StartEtcd(t)
	ctx := context.Background()
	d := newMember(t, e, "a", 10*time.Second)
	if _, err := e.Client.Revoke(ctx, d.Lease()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.AcquireLeader(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("acquire with a revoked lease: want ErrLeaseLost, got %v", err)
	}
	if d.Lease() != 0 {
		t.Fatal("a lost lease must be forgotten")
	}
	if _, ok := get(t, e, d.Keys().Leader()); ok {
		t.Fatal("a leader key was written with a revoked lease")
	}
}

// Release deletes the leader key only for the member and lease holding it.
func TestReleaseNeverDeletesAnotherHoldersKey(t *testing.T) {
	e := harness.StartEtcd(t)
	ctx := context.Background()
	a := newMember(t, e, "a", 10*time.Second)
	b := newMember(t, e, "b", 10*time.Second)
	if ok, _, err := a.AcquireLeader(ctx); !ok || err != nil {
		t.Fatalf("a acquires: %v %v", ok, err)
	}
	if ok, err := b.ReleaseLeader(ctx); ok || err != nil {
		t.Fatalf("b released a's key: %v %v", ok, err)
	}
	if v, _ := get(t, e, a.Keys().Leader()); v != "a" {
		t.Fatalf("leader key %q after b's release, want a", v)
	}

	// a's lease goes, b takes the key; a, with a new lease, cannot release it.
	if _, err := e.Client.Revoke(ctx, a.Lease()); err != nil {
		t.Fatal(err)
	}
	if ok, holder, err := b.AcquireLeader(ctx); !ok || err != nil {
		t.Fatalf("b acquires: %v %s %v", ok, holder, err)
	}
	if _, err := a.KeepAlive(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("a's renewal: %v", err)
	}
	if _, err := a.KeepAlive(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.ReleaseLeader(ctx); ok || err != nil {
		t.Fatalf("a released b's key: %v %v", ok, err)
	}

	// The same name under another lease (a second run of b) cannot release
	// it either: the compare is on value and lease.
	b2 := newMember(t, e, "b", 10*time.Second)
	if ok, err := b2.ReleaseLeader(ctx); ok || err != nil {
		t.Fatalf("b's second run released b's first run's key: %v %v", ok, err)
	}
	if v, _ := get(t, e, a.Keys().Leader()); v != "b" {
		t.Fatalf("leader key %q, want b", v)
	}
}

// A new run of the leader's agent takes the leader key over from its
// previous run's lease; the previous run then no longer holds it.
func TestUpdateLeaderMovesKeyToNewRun(t *testing.T) {
	e := harness.StartEtcd(t)
	ctx := context.Background()
	run1 := newMember(t, e, "a", 10*time.Second)
	if ok, _, err := run1.AcquireLeader(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	run2 := newMember(t, e, "a", 10*time.Second)
	if err := run2.UpdateLeader(ctx); err != nil {
		t.Fatalf("the new run takes over: %v", err)
	}
	c, err := run2.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Leader == nil || c.Leader.Lease != int64(run2.Lease()) {
		t.Fatalf("leader key %+v, want lease %x", c.Leader, run2.Lease())
	}
	if err := run1.UpdateLeader(ctx); err != nil {
		t.Logf("the old run moved it back, as Patroni would: %v", err)
	}
	other := newMember(t, e, "b", 10*time.Second)
	if err := other.UpdateLeader(ctx); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("another member's update: want ErrNotLeader, got %v", err)
	}
}

// A member name used by another running member is refused; the agent's own
// previous run is taken over.
func TestRegisterRefusesNameInUse(t *testing.T) {
	e := harness.StartEtcd(t)
	ctx := context.Background()
	first := newMember(t, e, "a", 10*time.Second)
	if err := first.Register(ctx, memberData("a")); err != nil {
		t.Fatal(err)
	}
	impostor := newMember(t, e, "a", 10*time.Second)
	if err := impostor.Register(ctx, memberData("elsewhere")); !errors.Is(err, ErrNameInUse) {
		t.Fatalf("second member named a: want ErrNameInUse, got %v", err)
	}
	rerun := newMember(t, e, "a", 10*time.Second)
	if err := rerun.Register(ctx, memberData("a")); err != nil {
		t.Fatalf("the agent's own new run: %v", err)
	}
	c, _ := rerun.Cluster(ctx)
	if m, ok := c.Member("a"); !ok || m.Lease != int64(rerun.Lease()) {
		t.Fatalf("member key after re-registration: %+v", m)
	}
}

// The config, failover and sync keys change only at the revision read; the
// sync, history and status keys only by the leader.
func TestCompareAndSwapWrites(t *testing.T) {
	e := harness.StartEtcd(t)
	ctx := context.Background()
	a := newMember(t, e, "a", 10*time.Second)
	b := newMember(t, e, "b", 10*time.Second)

	rev, err := a.SetConfig(ctx, map[string]any{"ttl": 5}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.SetConfig(ctx, map[string]any{"ttl": 9}, 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("create over an existing config: want ErrConflict, got %v", err)
	}
	if _, err := b.SetConfig(ctx, map[string]any{"ttl": 9}, rev-1); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale revision: want ErrConflict, got %v", err)
	}
	if _, err := b.SetConfig(ctx, map[string]any{"ttl": 9, "pause": true}, rev); err != nil {
		t.Fatal(err)
	}
	c, _ := a.Cluster(ctx)
	if s := c.Settings(Settings{}); s.TTL != 9*time.Second || !s.Pause {
		t.Fatalf("settings after the swap: %+v", s)
	}

	if err := a.Initialize(ctx, "7421", 0); err != nil {
		t.Fatal(err)
	}
	if err := b.Initialize(ctx, "9999", 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("second initialize: want ErrConflict, got %v", err)
	}

	if _, err := a.SetSync(ctx, SyncState{Leader: "a", SyncStandby: "b"}, 0); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("sync by a non-leader: want ErrNotLeader, got %v", err)
	}
	if ok, _, err := a.AcquireLeader(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	srev, err := a.SetSync(ctx, SyncState{Leader: "a", SyncStandby: "b"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.SetSync(ctx, SyncState{Leader: "b"}, srev); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("sync by b: want ErrNotLeader, got %v", err)
	}
	if _, err := a.SetSync(ctx, SyncState{Leader: "a"}, srev-1); !errors.Is(err, ErrConflict) {
		t.Fatalf("sync at a stale revision: want ErrConflict, got %v", err)
	}
	if err := a.SetHistory(ctx, []HistoryEntry{{Timeline: 1, LSN: 100, Reason: "no recovery target specified", Time: "2024-05-01T10:00:00+00:00", NewLeader: "a"}}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetStatus(ctx, Status{Optime: 1}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("status by b: want ErrNotLeader, got %v", err)
	}
	if err := a.SetStatus(ctx, Status{Optime: 200, RetainSlots: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}

	frev, err := b.SetFailover(ctx, Failover{Leader: "a", Member: "b"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err = a.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Failover == nil || c.Failover.Member != "b" || c.Failover.ModRevision != frev {
		t.Fatalf("failover %+v", c.Failover)
	}
	if c.Sync == nil || !c.Sync.IsSyncStandby("b") || c.Initialize != "7421" || c.Status.Optime != 200 ||
		c.History.LastTimeline() != 2 || c.LeaderName() != "a" {
		t.Fatalf("snapshot %+v", c)
	}
	if err := a.DeleteFailover(ctx, frev-1); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete at a stale revision: want ErrConflict, got %v", err)
	}
	if err := a.DeleteFailover(ctx, frev); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteSync(ctx, AnyRevision); err != nil {
		t.Fatal(err)
	}
	c, _ = a.Cluster(ctx)
	if c.Failover != nil || c.Sync != nil {
		t.Fatalf("after deletes: failover %+v sync %+v", c.Failover, c.Sync)
	}
}

// The values pgkeep writes are what Patroni writes, and a cluster written
// by Patroni reads back whole.
func TestPatroniLayoutInEtcd(t *testing.T) {
	e := harness.StartEtcd(t)
	ctx := context.Background()
	d := newMember(t, e, "node2", 10*time.Second)
	m, err := ParseMemberData(fixture(t, "member_replica.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.TouchMember(ctx, m); err != nil {
		t.Fatal(err)
	}
	if v, _ := get(t, e, "/service/main/members/node2"); v != string(fixture(t, "member_replica.json")) {
		t.Fatalf("member key\n got %s\nwant %s", v, fixture(t, "member_replica.json"))
	}

	// What a Patroni node1 would have written.
	lease, err := e.Client.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	for key, value := range map[string]string{
		"leader":          "node1",
		"members/node1":   string(fixture(t, "member_primary.json")),
		"members/node3":   string(fixture(t, "member_patroni3_master.json")),
		"config":          string(fixture(t, "config.json")),
		"initialize":      "7359207397427486755",
		"sync":            string(fixture(t, "sync.json")),
		"history":         string(fixture(t, "history.json")),
		"status":          string(fixture(t, "status.json")),
		"failover":        string(fixture(t, "failover.json")),
		"failsafe":        `{"node1":"http://127.0.0.1:8008/patroni"}`,
		"members/x/extra": "ignored",
	} {
		opts := []clientv3.OpOption{}
		if key == "leader" || key == "members/node1" {
			opts = append(opts, clientv3.WithLease(lease.ID))
		}
		if _, err := e.Client.Put(ctx, "/service/main/"+key, value, opts...); err != nil {
			t.Fatal(err)
		}
	}
	c, err := d.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.LeaderName() != "node1" || c.Leader.Lease != int64(lease.ID) || !c.Initialized || c.Initialize != "7359207397427486755" {
		t.Errorf("leader/initialize: %+v %q", c.Leader, c.Initialize)
	}
	if len(c.Members) != 3 || c.Members[0].Name != "node1" || c.Members[2].Name != "node3" {
		t.Fatalf("members %+v", c.Members)
	}
	if lm, ok := c.LeaderMember(); !ok || !lm.Data.IsPrimary() || lm.Data.Timeline != 2 {
		t.Errorf("leader member %+v", lm)
	}
	if s := c.Settings(Settings{}); !s.SynchronousMode || !s.Pause || s.TTL != 30*time.Second {
		t.Errorf("settings %+v", s)
	}
	if c.Sync == nil || !c.Sync.IsSyncStandby("node2") || c.Failover == nil || c.Failover.Member != "node2" ||
		c.History == nil || len(c.History.Entries) != 2 || c.Status.Optime != 50331968 {
		t.Errorf("snapshot %+v", c)
	}
}
