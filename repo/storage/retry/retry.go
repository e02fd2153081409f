// Package retry wraps a Storage so that transient failures are retried with
// exponential backoff. Permanent outcomes (storage.IsPermanent) return at once.
package retry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// Options tune the retries.
type Options struct {
	Attempts int           // total tries per call; default 5
	Base     time.Duration // first backoff; default 100ms
	Max      time.Duration // backoff cap; default 5s
	Logger   *slog.Logger  // default slog.Default()
}

// Storage retries the calls of the wrapped Storage.
type Storage struct {
	storage.Storage
	opts Options
}

var _ storage.Storage = (*Storage)(nil)

// New wraps s.
func New(s storage.Storage, opts Options) *Storage {
	if opts.Attempts <= 0 {
		opts.Attempts = 5
	}
	if opts.Base <= 0 {
		opts.Base = 100 * time.Millisecond
	}
	if opts.Max <= 0 {
		opts.Max = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Storage{Storage: s, opts: opts}
}

// Unwrap returns the wrapped Storage.
func (s *Storage) Unwrap() storage.Storage { return s.Storage }

// do runs op until it succeeds, fails permanently or the attempts run out.
// rewind, when not nil, is called before every retry; if it fails the last
// error is returned.
func (s *Storage) do(ctx context.Context, what string, rewind func() error, op func() error) error {
	delay := s.opts.Base
	for attempt := 1; ; attempt++ {
		err := op()
		if perm, ok := err.(permanent); ok {
			return perm.err
		}
		if err == nil || storage.IsPermanent(err) || attempt >= s.opts.Attempts || ctx.Err() != nil {
			if err != nil && attempt > 1 {
				return fmt.Errorf("%w (after %d attempts)", err, attempt)
			}
			return err
		}
		s.opts.Logger.Warn("storage call failed, retrying", "op", what, "attempt", attempt, "in", delay, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (retry cancelled: %w)", err, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, s.opts.Max)
		if rewind != nil {
			if rerr := rewind(); rerr != nil {
				return err
			}
		}
	}
}

// Put implements storage.Storage. Only a reader that can seek back to its
// start is retried; any other reader gets one attempt. A retried IfAbsent
// put whose earlier attempt did publish returns storage.ErrExists: callers
// of IfAbsent compare content to tell "mine" from "someone else's".
func (s *Storage) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) error {
	op := func() error { return s.Storage.Put(ctx, key, r, size, opts) }
	seeker, ok := r.(io.Seeker)
	if !ok {
		return op()
	}
	start, err := seeker.Seek(0, io.SeekCurrent)
	if err != nil {
		return op()
	}
	rewind := func() error { _, err := seeker.Seek(start, io.SeekStart); return err }
	return s.do(ctx, "put "+key, rewind, op)
}

// Get implements storage.Storage. A failure after fn started reading is
// not retried (fn may have consumed data); failures before are.
func (s *Storage) Get(ctx context.Context, key string, offset, length int64, fn func(io.Reader) error) error {
	return s.do(ctx, "get "+key, nil, func() error {
		called := false
		err := s.Storage.Get(ctx, key, offset, length, func(r io.Reader) error {
			called = true
			return fn(r)
		})
		if called && err != nil {
			return permanent{err}
		}
		return err
	})
}

// Stat implements storage.Storage.
func (s *Storage) Stat(ctx context.Context, key string) (info storage.ObjectInfo, err error) {
	err = s.do(ctx, "stat "+key, nil, func() error {
		info, err = s.Storage.Stat(ctx, key)
		return err
	})
	return info, err
}

// List implements storage.Storage. Only a listing that failed before the
// first callback is retried.
func (s *Storage) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	return s.do(ctx, "list "+prefix, nil, func() error {
		called := false
		err := s.Storage.List(ctx, prefix, func(info storage.ObjectInfo) error {
			called = true
			return fn(info)
		})
		if called && err != nil {
			return permanent{err}
		}
		return err
	})
}

// Remove implements storage.Storage.
func (s *Storage) Remove(ctx context.Context, key string) error {
	return s.do(ctx, "remove "+key, nil, func() error { return s.Storage.Remove(ctx, key) })
}

// permanent marks an error as not to be retried while keeping its chain.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }
