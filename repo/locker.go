package repo

import (
	"context"
	"time"
)

// HeldLock is a cluster's exclusive lock, held.
type HeldLock interface {
	// Err is nil while the lock is held and ErrLockLost (wrapped) once it
	// was lost: a writer checks it before every step it may not take alone.
	Err() error
	// Release gives the lock up.
	Release(ctx context.Context) error
}

// Locker takes a cluster's exclusive lock for backup or expire: the
// repository's lock object, or an etcd lease where etcd is configured.
type Locker interface {
	Lock(ctx context.Context, cluster, purpose string, ttl time.Duration) (HeldLock, error)
}

// ObjectLocker is the Locker that uses the repository's lock object.
func (r *Repo) ObjectLocker() Locker { return objectLocker{r} }

type objectLocker struct{ r *Repo }

func (o objectLocker) Lock(ctx context.Context, cluster, purpose string, ttl time.Duration) (HeldLock, error) {
	l, err := o.r.Lock(ctx, cluster, purpose, ttl)
	if err != nil {
		return nil, err
	}
	return l, nil
}
