// Package storage defines the object store under a pgkeep repository and the
// contract every backend keeps. Backends live in sub-packages (posix, azure,
// memory); cross-cutting behaviour (retries, fault injection) wraps a Storage.
//
// Keys are slash-separated relative paths such as "main/wal/0000000100000000/
// 000000010000000000000001". A key never starts or ends with "/", never contains
// "//", "." or ".." elements, and uses only the characters [A-Za-z0-9._-/].
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Sentinel errors. Backends translate their provider's errors into these at the
// boundary; callers branch only with errors.Is.
var (
	// ErrNotFound: the object does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrExists: Put with IfAbsent found an object already stored under the key.
	ErrExists = errors.New("object already exists")
	// ErrInvalidKey: the key breaks the key rules above.
	ErrInvalidKey = errors.New("invalid object key")
	// ErrPermission: the backend refused the credentials or the operation.
	ErrPermission = errors.New("access denied")
)

// IsPermanent reports whether err is an outcome that retrying cannot change:
// one of the sentinels above or a cancelled context.
func IsPermanent(err error) bool {
	for _, target := range []error{ErrNotFound, ErrExists, ErrInvalidKey, ErrPermission,
		context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// PutOptions change how Put publishes an object.
type PutOptions struct {
	// IfAbsent makes Put fail with ErrExists, changing nothing, when an object
	// already exists under the key. The check and the publish are one atomic
	// step: of two concurrent IfAbsent writers exactly one succeeds.
	IfAbsent bool
}

// Storage is a flat namespace of immutable-once-written objects.
//
// Every method is safe for concurrent use and honours ctx cancellation.
type Storage interface {
	// Put stores everything read from r under key. size is the number of bytes
	// r will yield, or -1 when unknown.
	//
	// Atomic publish: readers see either the previous object (or none) or the
	// complete new one, never a partial object, also when Put fails, ctx is
	// cancelled or the process dies mid-write. Put returns nil only once the
	// object is durable (survives a crash of this host). Without IfAbsent an
	// existing object is replaced. Read-after-write: once Put returns nil, Get,
	// Stat and List on any Storage opened on the same location see the object.
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) error

	// Get calls fn with a reader of the object's bytes starting at offset; with
	// length > 0 at most length bytes are read, with length 0 the rest of the
	// object. The reader is valid only during fn. A missing object returns
	// ErrNotFound without calling fn. An error returned by fn is returned as is.
	Get(ctx context.Context, key string, offset, length int64, fn func(io.Reader) error) error

	// Stat returns the object's size and modification time, or ErrNotFound.
	Stat(ctx context.Context, key string) (ObjectInfo, error)

	// List calls fn for every object whose key starts with prefix, in
	// lexical key order. Objects being written (not yet published) are never
	// listed. An error returned by fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error

	// Remove deletes the object. A missing object returns ErrNotFound.
	Remove(ctx context.Context, key string) error

	// Location names the storage for messages, e.g. "posix:/var/lib/pgkeep".
	Location() string

	// Close releases resources held by the backend.
	Close() error
}

// ValidateKey reports whether key follows the key rules, wrapping ErrInvalidKey.
func ValidateKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	for _, el := range strings.Split(key, "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("%w: %q", ErrInvalidKey, key)
		}
	}
	for _, c := range key {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-' || c == '/'
		if !ok {
			return fmt.Errorf("%w: %q has character %q", ErrInvalidKey, key, c)
		}
	}
	return nil
}

// ValidatePrefix reports whether prefix may be passed to List: empty, or a
// valid key optionally followed by "/".
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return ValidateKey(strings.TrimSuffix(prefix, "/"))
}

// ReadAll returns the whole object under key.
func ReadAll(ctx context.Context, s Storage, key string) ([]byte, error) {
	var data []byte
	err := s.Get(ctx, key, 0, 0, func(r io.Reader) error {
		var err error
		data, err = io.ReadAll(r)
		return err
	})
	return data, err
}

// TempRemover is implemented by backends whose interrupted writes can leave
// temporary files behind (posix, after a kill -9; Azure discards uncommitted
// blocks by itself).
type TempRemover interface {
	// RemoveTemp deletes the temporary files under prefix and returns how
	// many it removed. The caller guarantees that nothing writes under
	// prefix meanwhile.
	RemoveTemp(ctx context.Context, prefix string) (int, error)
}

// Wrapper is implemented by wrappers (retry, fault injection) to expose
// the Storage they wrap.
type Wrapper interface {
	Unwrap() Storage
}

// RemoveTemp calls RemoveTemp of s or of the first Storage it wraps that
// implements TempRemover; without one there is nothing to remove.
func RemoveTemp(ctx context.Context, s Storage, prefix string) (int, error) {
	for {
		if t, ok := s.(TempRemover); ok {
			return t.RemoveTemp(ctx, prefix)
		}
		w, ok := s.(Wrapper)
		if !ok {
			return 0, nil
		}
		s = w.Unwrap()
	}
}
