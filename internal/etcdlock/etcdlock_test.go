package etcdlock

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/test/harness"
)

func TestEtcdLock(t *testing.T) {
	e := harness.StartEtcd(t)
	ctx := context.Background()
	l := &Locker{Client: e.Client, Namespace: "/service"}

	a, err := l.Lock(ctx, "main", "backup", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Lock(ctx, "main", "expire", 10*time.Second); !errors.Is(err, repo.ErrLocked) {
		t.Fatalf("second lock: want ErrLocked, got %v", err)
	}
	other, err := l.Lock(ctx, "other", "backup", 10*time.Second)
	if err != nil {
		t.Fatalf("another cluster's lock: %v", err)
	}
	other.Release(ctx)
	if err := a.Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := l.Lock(ctx, "main", "expire", 10*time.Second)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}

	// The lease of a holder that is gone (revoked here) frees the lock and
	// the holder sees it lost.
	h := b.(*held)
	if _, err := e.Client.Revoke(ctx, h.sess.Lease()); err != nil {
		t.Fatal(err)
	}
	harness.Wait(t, 10*time.Second, "the holder to notice its lost lease", func() (bool, error) {
		return errors.Is(b.Err(), repo.ErrLockLost), nil
	})
	c, err := l.Lock(ctx, "main", "backup", 10*time.Second)
	if err != nil {
		t.Fatalf("lock after the holder's lease ended: %v", err)
	}
	c.Release(ctx)
}
