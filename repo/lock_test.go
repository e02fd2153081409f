package repo

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
)

// fakeClock is a settable clock for lock expiry.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestRepo(t *testing.T) *Repo {
	t.Helper()
	r, err := Init(context.Background(), Options{Storage: memory.New()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLockExclusiveAndRelease(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	l, err := r.Lock(ctx, "main", "backup", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Lock(ctx, "main", "expire", time.Minute)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "backup (pid") || !strings.Contains(err.Error(), "expires") {
		t.Fatalf("second lock: %v", err)
	}
	// Another cluster has its own lock.
	other, err := r.Lock(ctx, "other", "expire", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release(ctx)
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Storage().Stat(ctx, LockKey("main")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("lock object after release: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("second release: %v", err)
	}
	l2, err := r.Lock(ctx, "main", "expire", time.Minute)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Release(ctx)
}

func TestLockStaleIsReplaced(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	clock := newFakeClock()
	opts := lockOptions{now: clock.now, renew: time.Hour} // no renewal: the holder "died"
	old, err := r.lock(ctx, "main", "backup", time.Minute, opts)
	if err != nil {
		t.Fatal(err)
	}
	clock.advance(59 * time.Second)
	if _, err := r.lock(ctx, "main", "expire", time.Minute, opts); !errors.Is(err, ErrLocked) {
		t.Fatalf("lock before expiry: %v", err)
	}
	clock.advance(2 * time.Second)
	l, err := r.lock(ctx, "main", "expire", time.Minute, opts)
	if err != nil {
		t.Fatalf("lock after expiry: %v", err)
	}
	// The old holder must not remove the new holder's lock.
	if err := old.Release(ctx); !errors.Is(err, ErrLockLost) {
		t.Fatalf("release of a replaced lock: %v", err)
	}
	cur, err := readLockDoc(ctx, r.Storage(), LockKey("main"))
	if err != nil || cur.Owner != l.owner {
		t.Fatalf("lock after the old holder's release: %+v %v", cur, err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLockStaleRaceHasOneWinner(t *testing.T) {
	ctx := context.Background()
	for round := range 20 {
		r := newTestRepo(t)
		clock := newFakeClock()
		opts := lockOptions{now: clock.now, renew: time.Hour}
		if _, err := r.lock(ctx, "main", "backup", time.Minute, opts); err != nil {
			t.Fatal(err)
		}
		if round%2 == 1 {
			// A takeover that died half-way, long ago, must not block forever.
			stale := lockDoc{Owner: "x", Purpose: "takeover", Expires: clock.now().Add(-time.Hour)}
			if err := putLockDoc(ctx, r.Storage(), takeoverKey("main"), &stale, true); err != nil {
				t.Fatal(err)
			}
		}
		clock.advance(time.Hour)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []*Lock
		for range 16 {
			wg.Go(func() {
				l, err := r.lock(ctx, "main", "expire", time.Minute, opts)
				if err != nil && !errors.Is(err, ErrLocked) {
					t.Errorf("racer: %v", err)
				}
				if err == nil {
					mu.Lock()
					winners = append(winners, l)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: %d winners", round, len(winners))
		}
		if err := winners[0].Release(ctx); err != nil {
			t.Fatalf("round %d: the winner's lock was disturbed: %v", round, err)
		}
	}
}

func TestLockRenews(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	clock := newFakeClock()
	l, err := r.lock(ctx, "main", "backup", time.Minute, lockOptions{now: clock.now, renew: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	clock.advance(50 * time.Second)
	want := clock.now().Add(time.Minute)
	waitFor(t, "renewal", func() bool {
		cur, err := readLockDoc(ctx, r.Storage(), LockKey("main"))
		return err == nil && !cur.Expires.Before(want)
	})
	// Past the first expiry the lock is still held, thanks to renewal.
	clock.advance(30 * time.Second)
	if _, err := r.lock(ctx, "main", "expire", time.Minute, lockOptions{now: clock.now}); !errors.Is(err, ErrLocked) {
		t.Fatalf("renewed lock taken: %v", err)
	}
}

func TestLockNoticesLoss(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	l, err := r.lock(ctx, "main", "backup", time.Minute, lockOptions{now: time.Now, renew: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	thief := lockDoc{Owner: "thief", Purpose: "expire", Expires: time.Now().Add(time.Hour)}
	if err := putLockDoc(ctx, r.Storage(), LockKey("main"), &thief, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "loss", func() bool { return errors.Is(l.Err(), ErrLockLost) })
	if err := l.Release(ctx); !errors.Is(err, ErrLockLost) {
		t.Fatalf("release of a lost lock: %v", err)
	}
	cur, err := readLockDoc(ctx, r.Storage(), LockKey("main"))
	if err != nil || cur.Owner != "thief" {
		t.Fatalf("release removed another's lock: %+v %v", cur, err)
	}
}

// A lock whose holder died on this host is stale at once.
func TestLockOfDeadProcessIsStale(t *testing.T) {
	ctx := context.Background()
	r, err := Init(ctx, Options{Storage: memory.New()})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	now := time.Now().UTC()
	dead := lockDoc{Owner: "dead", Host: host, PID: 1 << 22, Purpose: "backup", Acquired: now, Expires: now.Add(time.Hour),
		Process: strings.SplitN(processIdentity(os.Getpid()), "/", 2)[0] + "/12345"}
	if dead.Process == "/12345" {
		t.Skip("no /proc on this system")
	}
	if err := putLockDoc(ctx, r.Storage(), LockKey("c"), &dead, true); err != nil {
		t.Fatal(err)
	}
	l, err := r.Lock(ctx, "c", "backup", time.Minute)
	if err != nil {
		t.Fatalf("lock of a dead process on this host: %v", err)
	}
	l.Release(ctx)

	// A live holder (this process) still excludes.
	alive := dead
	alive.Owner, alive.PID, alive.Process = "alive", os.Getpid(), processIdentity(os.Getpid())
	if err := putLockDoc(ctx, r.Storage(), LockKey("c"), &alive, true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lock(ctx, "c", "backup", time.Minute); !errors.Is(err, ErrLocked) {
		t.Fatalf("lock of a live process: %v", err)
	}
}
