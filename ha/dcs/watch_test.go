package dcs

import (
	"context"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// Watch reports changes after the snapshot's revision, coalesced, and
// closes its channel when its context ends.
func TestWatch(t *testing.T) {
	e := harness.StartEtcd(t)
	ctx := context.Background()
	a := newMember(t, e, "a", 10*time.Second)
	b := newMember(t, e, "b", 10*time.Second)
	if err := a.TouchMember(ctx, memberData("a")); err != nil { // a joins before the snapshot
		t.Fatal(err)
	}
	c, err := a.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := a.Watch(wctx, c.Revision)

	// Changes made before anyone reads coalesce into the newest revision
	// (b joining among them).
	for range 3 {
		if err := b.TouchMember(ctx, memberData("b")); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _, err := b.AcquireLeader(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	after, err := a.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for seen := int64(0); seen < after.Revision; {
		select {
		case rev := <-ch:
			if rev <= c.Revision {
				t.Fatalf("revision %d reported, not after %d", rev, c.Revision)
			}
			seen = rev
		case <-deadline:
			t.Fatalf("no change to revision %d reported (snapshot at %d)", after.Revision, c.Revision)
		}
	}

	// A change outside the cluster, a rewrite of a member key or of the
	// status key (the leader rewrites it every loop) is not reported.
	if _, err := e.Client.Put(ctx, "/service/other/leader", "x"); err != nil {
		t.Fatal(err)
	}
	if err := a.TouchMember(ctx, memberData("a")); err != nil {
		t.Fatal(err)
	}
	if err := b.SetStatus(ctx, Status{Optime: 0x3000060}); err != nil {
		t.Fatal(err)
	}
	select {
	case rev := <-ch:
		t.Fatalf("revision %d reported for a change outside the cluster, of a member key or of the status key", rev)
	case <-time.After(time.Second):
	}
	if ok, err := b.ReleaseLeader(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	select {
	case rev := <-ch:
		if c2, _ := a.Cluster(ctx); c2.Leader != nil || rev != c2.Revision {
			t.Fatalf("reported %d, leader %+v at %d", rev, c2.Leader, c2.Revision)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the release was not reported")
	}

	cancel()
	select {
	case _, open := <-ch:
		for open {
			_, open = <-ch
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watch did not end with its context")
	}
}
