// Package etcdlock is the cluster lock for backup and expire where etcd is
// configured: an etcd mutex under the cluster's keys, held by a lease that
// dies with the process (or its network), so a killed writer never blocks
// the next one for longer than the lease's TTL.
package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/pgkeep/pgkeep/repo"
)

// Locker takes cluster locks in etcd.
type Locker struct {
	Client    *clientv3.Client
	Namespace string // e.g. "/service"
}

var _ repo.Locker = (*Locker)(nil)

// Key is the mutex prefix of a cluster: beside Patroni's keys, which
// Patroni ignores.
func (l *Locker) Key(cluster string) string { return l.Namespace + "/" + cluster + "/pgkeep-lock" }

// Lock implements repo.Locker. A lock held by another process fails at once
// with an error wrapping repo.ErrLocked.
func (l *Locker) Lock(ctx context.Context, cluster, purpose string, ttl time.Duration) (repo.HeldLock, error) {
	secs := max(int(ttl.Round(time.Second)/time.Second), 1)
	sess, err := concurrency.NewSession(l.Client, concurrency.WithTTL(secs), concurrency.WithContext(context.WithoutCancel(ctx)))
	if err != nil {
		return nil, fmt.Errorf("lock cluster %s in etcd: %w", cluster, err)
	}
	m := concurrency.NewMutex(sess, l.Key(cluster))
	if err := m.TryLock(ctx); err != nil {
		sess.Close()
		if errors.Is(err, concurrency.ErrLocked) {
			return nil, fmt.Errorf("lock cluster %s for %s: %w in etcd (%s): another backup or expire runs",
				cluster, purpose, repo.ErrLocked, l.Key(cluster))
		}
		return nil, fmt.Errorf("lock cluster %s in etcd: %w", cluster, err)
	}
	return &held{sess: sess, m: m, cluster: cluster}, nil
}

type held struct {
	sess    *concurrency.Session
	m       *concurrency.Mutex
	cluster string
}

// Err reports a lost lease: the session's keep-alive ended.
func (h *held) Err() error {
	select {
	case <-h.sess.Done():
		return fmt.Errorf("cluster %s: %w (etcd lease expired)", h.cluster, repo.ErrLockLost)
	default:
		return nil
	}
}

// Release unlocks and revokes the lease.
func (h *held) Release(ctx context.Context) error {
	uerr := h.m.Unlock(ctx)
	cerr := h.sess.Close()
	if uerr != nil {
		return fmt.Errorf("unlock cluster %s in etcd: %w", h.cluster, uerr)
	}
	return cerr
}
