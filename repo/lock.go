package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// ErrLocked: another process holds the cluster's lock.
var ErrLocked = errors.New("cluster is locked")

// ErrLockLost: a held lock expired and was taken over, or disappeared.
var ErrLockLost = errors.New("cluster lock lost")

// LockKey is the key of the lock object that makes backup and expire of a
// cluster exclusive.
func LockKey(cluster string) string { return cluster + "/lock" }

// takeoverKey is held, briefly, by the one process replacing a stale lock.
func takeoverKey(cluster string) string { return cluster + "/lock.takeover" }

// lockDoc is the content of a lock object: a metadata file (plain JSON with
// a checksum) so that an operator can read who holds the lock.
type lockDoc struct {
	Owner    string    `json:"owner"` // random, per Lock call
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Purpose  string    `json:"purpose"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
	// Process identifies the holder's process on its host (boot id and
	// start time), so that a lock of a process that died on this host is
	// stale at once instead of after its expiry.
	Process  string `json:"process,omitempty"`
	Checksum string `json:"checksum"`
}

func (d *lockDoc) setChecksum(s string) string { old := d.Checksum; d.Checksum = s; return old }

func (d *lockDoc) String() string {
	return fmt.Sprintf("%s (pid %d on %s) since %s, expires %s", d.Purpose, d.PID, d.Host,
		d.Acquired.Format(time.RFC3339), d.Expires.Format(time.RFC3339))
}

// Lock is a held cluster lock. It renews itself until Release.
type Lock struct {
	r       *Repo
	cluster string
	owner   string
	ttl     time.Duration
	now     func() time.Time
	stop    context.CancelFunc
	done    chan struct{}

	mu       sync.Mutex
	doc      lockDoc
	lost     error // set when renewal found the lock gone or taken over
	released bool
}

// lockOptions are the knobs tests turn.
type lockOptions struct {
	now   func() time.Time
	renew time.Duration // 0: ttl/3
}

// Lock takes the cluster's exclusive lock for backup or expire: the object
// LockKey(cluster) holding the owner, host, pid, purpose, acquisition time and
// expiry, created with IfAbsent. A lock held by another process whose expiry
// has not passed fails with an error wrapping ErrLocked that names the
// holder. An expired (stale) lock is replaced; of several processes racing to
// replace it exactly one wins. The returned Lock re-publishes itself with a
// later expiry every ttl/3 until Release; Err reports when it was lost.
func (r *Repo) Lock(ctx context.Context, cluster, purpose string, ttl time.Duration) (*Lock, error) {
	return r.lock(ctx, cluster, purpose, ttl, lockOptions{now: time.Now})
}

func (r *Repo) lock(ctx context.Context, cluster, purpose string, ttl time.Duration, o lockOptions) (*Lock, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("lock cluster %s: ttl %s is not positive", cluster, ttl)
	}
	owner := make([]byte, 16)
	if _, err := rand.Read(owner); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	now := o.now().UTC()
	doc := lockDoc{Owner: hex.EncodeToString(owner), Host: host, PID: os.Getpid(), Purpose: purpose,
		Acquired: now, Expires: now.Add(ttl), Process: processIdentity(os.Getpid())}
	if err := r.acquire(ctx, cluster, &doc, ttl, o.now); err != nil {
		return nil, fmt.Errorf("lock cluster %s for %s: %w", cluster, purpose, err)
	}
	rctx, stop := context.WithCancel(ctx)
	l := &Lock{r: r, cluster: cluster, owner: doc.Owner, ttl: ttl, now: o.now, stop: stop, done: make(chan struct{}), doc: doc}
	every := o.renew
	if every <= 0 {
		every = ttl / 3
	}
	go l.renewLoop(rctx, every)
	return l, nil
}

// acquire publishes doc as the lock, replacing a stale one.
func (r *Repo) acquire(ctx context.Context, cluster string, doc *lockDoc, ttl time.Duration, now func() time.Time) error {
	key := LockKey(cluster)
	for range 5 {
		err := putLockDoc(ctx, r.store, key, doc, true)
		if !errors.Is(err, storage.ErrExists) {
			return err
		}
		held, err := readLockDoc(ctx, r.store, key)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			continue // released meanwhile
		case err != nil:
			return fmt.Errorf("%w: %v (remove %s if no backup or expire runs)", ErrLocked, err, key)
		case held.Owner == doc.Owner:
			return nil // our own Put succeeded although it reported an error
		case now().Before(held.Expires) && !held.holderDied(doc.Host):
			return fmt.Errorf("%w by %s", ErrLocked, held)
		}
		if err := r.takeOver(ctx, cluster, held, doc, ttl, now); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: the lock keeps changing hands", ErrLocked)
}

// takeOver removes the stale lock held by stale, unless another process is
// doing so or the lock changed since it was read. The caller then retries
// its IfAbsent Put: only the remover of a given stale lock can have made
// room, and only one IfAbsent Put wins that room.
func (r *Repo) takeOver(ctx context.Context, cluster string, stale, doc *lockDoc, ttl time.Duration, now func() time.Time) error {
	mkey := takeoverKey(cluster)
	marker := *doc
	marker.Purpose = "takeover of the stale lock of " + stale.Purpose
	marker.Acquired, marker.Expires = now().UTC(), now().UTC().Add(ttl)
	err := putLockDoc(ctx, r.store, mkey, &marker, true)
	if errors.Is(err, storage.ErrExists) {
		m, rerr := readLockDoc(ctx, r.store, mkey)
		switch {
		case errors.Is(rerr, storage.ErrNotFound):
			return nil
		case rerr == nil && now().Before(m.Expires):
			return fmt.Errorf("%w: another process is replacing the stale lock of %s", ErrLocked, stale)
		}
		// A takeover that died half-way: clear it and start over.
		if err := r.store.Remove(ctx, mkey); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("remove stale %s: %w", mkey, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("take over stale lock: %w", err)
	}
	defer r.store.Remove(context.WithoutCancel(ctx), mkey)
	key := LockKey(cluster)
	cur, err := readLockDoc(ctx, r.store, key)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("take over stale lock: %w", err)
	case cur.Owner != stale.Owner || now().Before(cur.Expires) && !cur.holderDied(doc.Host):
		return nil // changed hands or renewed: the retry sees who holds it
	}
	if err := r.store.Remove(ctx, key); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("remove stale lock %s: %w", key, err)
	}
	r.log.Warn("replaced a stale lock", "cluster", cluster, "stale", stale.String())
	return nil
}

// renewLoop re-publishes the lock with a later expiry every interval.
func (l *Lock) renewLoop(ctx context.Context, every time.Duration) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := l.renew(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrLockLost):
			l.mu.Lock()
			l.lost = err
			l.mu.Unlock()
			l.r.log.Error("cluster lock lost", "cluster", l.cluster, "err", err)
			return
		case err != nil:
			l.r.log.Warn("renew cluster lock", "cluster", l.cluster, "err", err) // next tick retries
		}
	}
}

// renew extends the expiry if the lock is still ours.
func (l *Lock) renew(ctx context.Context) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	doc := l.doc
	l.mu.Unlock()
	doc.Expires = l.now().UTC().Add(l.ttl)
	if err := putLockDoc(ctx, l.r.store, LockKey(l.cluster), &doc, false); err != nil {
		return err
	}
	l.mu.Lock()
	l.doc = doc
	l.mu.Unlock()
	return nil
}

// check reads the lock object and fails with ErrLockLost unless it is ours.
func (l *Lock) check(ctx context.Context) error {
	cur, err := readLockDoc(ctx, l.r.store, LockKey(l.cluster))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("%w: %s was removed", ErrLockLost, LockKey(l.cluster))
	case err != nil:
		return err
	case cur.Owner != l.owner:
		return fmt.Errorf("%w: taken over by %s", ErrLockLost, cur)
	}
	return nil
}

// Err returns an error wrapping ErrLockLost once renewal found the lock
// removed or held by another process; work under the lock must stop then.
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// Expires is the expiry last published.
func (l *Lock) Expires() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.doc.Expires
}

// Release stops the renewal and removes the lock object if it is still
// ours. Releasing a lost lock removes nothing and returns the loss.
func (l *Lock) Release(ctx context.Context) error {
	l.stop()
	<-l.done
	l.mu.Lock()
	released := l.released
	l.released = true
	l.mu.Unlock()
	if released {
		return nil
	}
	if err := l.Err(); err != nil {
		return fmt.Errorf("release lock of %s: %w", l.cluster, err)
	}
	if err := l.check(ctx); err != nil {
		return fmt.Errorf("release lock of %s: %w", l.cluster, err)
	}
	if err := l.r.store.Remove(ctx, LockKey(l.cluster)); err != nil {
		return fmt.Errorf("release lock of %s: %w", l.cluster, err)
	}
	return nil
}

func putLockDoc(ctx context.Context, s storage.Storage, key string, doc *lockDoc, ifAbsent bool) error {
	data, err := marshalMeta(doc)
	if err != nil {
		return err
	}
	return s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{IfAbsent: ifAbsent})
}

func readLockDoc(ctx context.Context, s storage.Storage, key string) (*lockDoc, error) {
	var d lockDoc
	if err := readMeta(ctx, s, key, &d); err != nil {
		return nil, err
	}
	return &d, nil
}
