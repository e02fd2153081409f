package storagetest

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// ErrInjected is the error a Faulty storage injects.
var ErrInjected = errors.New("injected fault")

// Faulty wraps a Storage and makes chosen calls fail: a failing Put passes a
// reader to the wrapped backend that breaks halfway through the data, so the
// backend sees a real interrupted write.
type Faulty struct {
	storage.Storage

	mu       sync.Mutex
	putFails int
	getFails int
	calls    map[string]int
}

// NewFaulty wraps s.
func NewFaulty(s storage.Storage) *Faulty {
	return &Faulty{Storage: s, calls: map[string]int{}}
}

// FailPuts makes the next n Put calls break mid-stream.
func (f *Faulty) FailPuts(n int) { f.mu.Lock(); f.putFails = n; f.mu.Unlock() }

// FailGets makes the next n Get calls fail before reading.
func (f *Faulty) FailGets(n int) { f.mu.Lock(); f.getFails = n; f.mu.Unlock() }

// Calls returns how often the named method was called.
func (f *Faulty) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *Faulty) take(method string, budget *int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method]++
	if *budget > 0 {
		*budget--
		return true
	}
	return false
}

// Put implements storage.Storage.
func (f *Faulty) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) error {
	if f.take("Put", &f.putFails) {
		n := size / 2
		if size < 0 {
			n = 1 << 10
		}
		r = io.MultiReader(io.LimitReader(r, n), errReader{})
	}
	return f.Storage.Put(ctx, key, r, size, opts)
}

// Get implements storage.Storage.
func (f *Faulty) Get(ctx context.Context, key string, offset, length int64, fn func(io.Reader) error) error {
	if f.take("Get", &f.getFails) {
		return ErrInjected
	}
	return f.Storage.Get(ctx, key, offset, length, fn)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, ErrInjected }
