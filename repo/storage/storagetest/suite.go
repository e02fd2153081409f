// Package storagetest holds the conformance suite every storage backend must
// pass and a fault-injecting wrapper to test what sits above a backend.
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// Factory opens two Storage values on the same new, empty location, so the
// suite can check that what one writes the other reads. A backend without
// separate handles may return the same value twice.
type Factory func(t *testing.T) (first, second storage.Storage)

// Run runs the conformance suite. Every backend runs it on every `make test`.
func Run(t *testing.T, open Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b storage.Storage)
	}{
		{"RoundTrip", testRoundTrip},
		{"Large", testLarge},
		{"Missing", testMissing},
		{"Range", testRange},
		{"List", testList},
		{"Overwrite", testOverwrite},
		{"IfAbsent", testIfAbsent},
		{"IfAbsentRace", testIfAbsentRace},
		{"Remove", testRemove},
		{"FailedReader", testFailedReader},
		{"ShortReader", testShortReader},
		{"Cancelled", testCancelled},
		{"InvalidKey", testInvalidKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := open(t)
			tc.fn(t, a, b)
		})
	}
}

func put(t *testing.T, s storage.Storage, key string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func mustRead(t *testing.T, s storage.Storage, key string) []byte {
	t.Helper()
	data, err := storage.ReadAll(context.Background(), s, key)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return data
}

func assertAbsent(t *testing.T, s storage.Storage, key string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("stat %s: want ErrNotFound, got %v", key, err)
	}
	if err := s.List(ctx, "", func(info storage.ObjectInfo) error {
		if info.Key == key {
			return fmt.Errorf("%s is listed", key)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// Random returns n random bytes.
func Random(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func testRoundTrip(t *testing.T, a, b storage.Storage) {
	for _, n := range []int{0, 1, 4096, 1<<20 + 7} {
		key := fmt.Sprintf("c/wal/obj-%d", n)
		data := Random(t, n)
		put(t, a, key, data)
		if got := mustRead(t, b, key); !bytes.Equal(got, data) {
			t.Fatalf("%s: read %d bytes differing from the %d written", key, len(got), n)
		}
		info, err := b.Stat(context.Background(), key)
		if err != nil || info.Size != int64(n) || info.Key != key {
			t.Fatalf("stat %s = %+v, %v; want size %d", key, info, err, n)
		}
	}
	// Unknown size must work too (streamed uploads).
	data := Random(t, 3<<20)
	if err := a.Put(context.Background(), "c/unknown", io.MultiReader(bytes.NewReader(data)), -1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, b, "c/unknown"); !bytes.Equal(got, data) {
		t.Fatal("unknown-size put: content differs")
	}
}

func testLarge(t *testing.T, a, b storage.Storage) {
	data := Random(t, 21<<20) // larger than one upload block
	put(t, a, "big/object", data)
	if got := mustRead(t, b, "big/object"); !bytes.Equal(got, data) {
		t.Fatal("large object differs after round trip")
	}
}

func testMissing(t *testing.T, a, b storage.Storage) {
	ctx := context.Background()
	called := false
	err := a.Get(ctx, "no/such", 0, 0, func(io.Reader) error { called = true; return nil })
	if !errors.Is(err, storage.ErrNotFound) || called {
		t.Fatalf("get missing: err=%v called=%v; want ErrNotFound and no call", err, called)
	}
	if _, err := a.Stat(ctx, "no/such"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("stat missing: %v", err)
	}
	n := 0
	if err := a.List(ctx, "no/", func(storage.ObjectInfo) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("list of empty prefix: n=%d err=%v", n, err)
	}
}

func testRange(t *testing.T, a, b storage.Storage) {
	data := Random(t, 100000)
	put(t, a, "r/obj", data)
	for _, c := range []struct{ off, n int64 }{{0, 10}, {99990, 0}, {500, 50000}, {99999, 1}, {0, 0}} {
		var got []byte
		err := b.Get(context.Background(), "r/obj", c.off, c.n, func(r io.Reader) error {
			var err error
			got, err = io.ReadAll(r)
			return err
		})
		if err != nil {
			t.Fatalf("range %+v: %v", c, err)
		}
		want := data[c.off:]
		if c.n > 0 {
			want = want[:c.n]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("range %+v: got %d bytes, want %d", c, len(got), len(want))
		}
	}
}

func testList(t *testing.T, a, b storage.Storage) {
	keys := []string{"l/b/2", "l/a/1", "l/a/2", "l/b/1", "lz/x", "m/1"}
	for _, k := range keys {
		put(t, a, k, []byte(k))
	}
	var got []string
	if err := b.List(context.Background(), "l/", func(info storage.ObjectInfo) error {
		if info.Size != int64(len(info.Key)) {
			return fmt.Errorf("%s: size %d", info.Key, info.Size)
		}
		got = append(got, info.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"l/a/1", "l/a/2", "l/b/1", "l/b/2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("list l/ = %v, want %v", got, want)
	}
	stop := errors.New("stop")
	n := 0
	err := b.List(context.Background(), "", func(storage.ObjectInfo) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("list stopped by callback: n=%d err=%v", n, err)
	}
}

func testOverwrite(t *testing.T, a, b storage.Storage) {
	put(t, a, "o/k", []byte("first version"))
	put(t, b, "o/k", []byte("second"))
	if got := mustRead(t, a, "o/k"); string(got) != "second" {
		t.Fatalf("after overwrite read %q", got)
	}
}

func testIfAbsent(t *testing.T, a, b storage.Storage) {
	ctx := context.Background()
	opts := storage.PutOptions{IfAbsent: true}
	if err := a.Put(ctx, "x/seg", bytes.NewReader([]byte("one")), 3, opts); err != nil {
		t.Fatal(err)
	}
	err := b.Put(ctx, "x/seg", bytes.NewReader([]byte("other")), 5, opts)
	if !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second IfAbsent put: want ErrExists, got %v", err)
	}
	if got := mustRead(t, a, "x/seg"); string(got) != "one" {
		t.Fatalf("refused put changed the object to %q", got)
	}
}

// testIfAbsentRace races IfAbsent writers of objects larger than an upload
// block (1 MiB and more), half of them of unknown size: exactly one wins.
func testIfAbsentRace(t *testing.T, a, b storage.Storage) {
	const writers = 6
	var wins, exists atomic.Int32
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			data := bytes.Repeat([]byte{byte(i)}, 1<<20+i)
			size := int64(len(data))
			if i%3 == 1 {
				size = -1
			}
			err := s.Put(context.Background(), "race/seg", bytes.NewReader(data), size, storage.PutOptions{IfAbsent: true})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, storage.ErrExists):
				exists.Add(1)
			default:
				t.Errorf("racing put %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || exists.Load() != writers-1 {
		t.Fatalf("IfAbsent race: %d wins, %d ErrExists; want 1 and %d", wins.Load(), exists.Load(), writers-1)
	}
	got := mustRead(t, a, "race/seg")
	if len(got) < 1<<20 || len(got) != 1<<20+int(got[0]) || !bytes.Equal(got, bytes.Repeat(got[:1], len(got))) {
		t.Fatal("IfAbsent race left a mixed object")
	}
}

func testRemove(t *testing.T, a, b storage.Storage) {
	ctx := context.Background()
	put(t, a, "d/1", []byte("x"))
	if err := b.Remove(ctx, "d/1"); err != nil {
		t.Fatal(err)
	}
	assertAbsent(t, a, "d/1")
	if err := a.Remove(ctx, "d/1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("remove missing: want ErrNotFound, got %v", err)
	}
}

// failingReader yields n bytes, then fails.
type failingReader struct {
	r   io.Reader
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func testFailedReader(t *testing.T, a, b storage.Storage) {
	boom := errors.New("source broke")
	for _, size := range []int{1000, 9 << 20} {
		data := Random(t, size)
		for _, known := range []bool{true, false} {
			n := int64(-1)
			if known {
				n = int64(size)
			}
			r := &failingReader{r: bytes.NewReader(data), n: size / 2, err: boom}
			if err := a.Put(context.Background(), "f/obj", r, n, storage.PutOptions{}); err == nil {
				t.Fatalf("put from a failing reader (size %d) returned nil", size)
			}
			assertAbsent(t, b, "f/obj")
		}
	}
	// A failed replacement leaves the old object intact.
	put(t, a, "f/keep", []byte("old"))
	r := &failingReader{r: bytes.NewReader(Random(t, 5000)), n: 100, err: boom}
	if err := a.Put(context.Background(), "f/keep", r, 5000, storage.PutOptions{}); err == nil {
		t.Fatal("failed replacement returned nil")
	}
	if got := mustRead(t, b, "f/keep"); string(got) != "old" {
		t.Fatalf("failed replacement changed the object to %d bytes", len(got))
	}
}

func testShortReader(t *testing.T, a, b storage.Storage) {
	data := Random(t, 1000)
	if err := a.Put(context.Background(), "s/obj", bytes.NewReader(data), 2000, storage.PutOptions{}); err == nil {
		t.Fatal("put with a short reader returned nil")
	}
	assertAbsent(t, b, "s/obj")
}

// cancellingReader cancels its context after n bytes.
type cancellingReader struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
	}
	if len(p) > 4096 {
		p = p[:4096]
	}
	n, err := c.r.Read(p)
	c.n -= n
	return n, err
}

func testCancelled(t *testing.T, a, b storage.Storage) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := Random(t, 1<<20)
	r := &cancellingReader{r: bytes.NewReader(data), n: 1 << 19, cancel: cancel}
	if err := a.Put(ctx, "cx/obj", r, int64(len(data)), storage.PutOptions{}); err == nil {
		t.Fatal("put with a cancelled context returned nil")
	}
	assertAbsent(t, b, "cx/obj")
}

func testInvalidKey(t *testing.T, a, b storage.Storage) {
	for _, k := range []string{"", "/abs", "a//b", "a/../b", "trailing/", "sp ace", "a/./b"} {
		err := a.Put(context.Background(), k, bytes.NewReader(nil), 0, storage.PutOptions{})
		if !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("put %q: want ErrInvalidKey, got %v", k, err)
		}
	}
}
