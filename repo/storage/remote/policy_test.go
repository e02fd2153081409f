package remote_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
	"github.com/pgkeep/pgkeep/repo/storage/remote"
)

// Under the default policy a database node reads, lists, stats and adds
// objects, but never deletes or replaces one.
func TestDefaultPolicy(t *testing.T) {
	ctx := context.Background()
	backend := memory.New()
	ts := startServer(t, backend, remote.HandlerOptions{Token: rightToken})
	c := ts.client(t, remote.Config{Token: rightToken})
	put := func(key, data string, ifAbsent bool) error {
		return c.Put(ctx, key, strings.NewReader(data), int64(len(data)), storage.PutOptions{IfAbsent: ifAbsent})
	}
	read := func(key string) string {
		t.Helper()
		data, err := storage.ReadAll(ctx, backend, key)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}

	if err := put("c/wal/a", "first", true); err != nil {
		t.Fatalf("put-if-absent of a new object: %v", err)
	}
	if err := put("c/wal/a", "second", true); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("put-if-absent of an existing object: want ErrExists, got %v", err)
	}
	if err := put("c/wal/b", "new", false); err != nil {
		t.Fatalf("plain put of a new object: %v", err)
	}
	if err := put("c/wal/a", "replaced", false); !errors.Is(err, storage.ErrPermission) {
		t.Fatalf("overwrite: want ErrPermission, got %v", err)
	}
	if got := read("c/wal/a"); got != "first" {
		t.Fatalf("refused overwrite changed the object to %q", got)
	}
	if err := c.Remove(ctx, "c/wal/a"); !errors.Is(err, storage.ErrPermission) {
		t.Fatalf("remove: want ErrPermission, got %v", err)
	}
	if _, err := storage.RemoveTemp(ctx, c, "c/"); !errors.Is(err, storage.ErrPermission) {
		t.Fatalf("remove-temp: want ErrPermission, got %v", err)
	}
	if got := read("c/wal/a"); got != "first" {
		t.Fatalf("refused remove changed the object to %q", got)
	}

	var part string
	err := c.Get(ctx, "c/wal/a", 1, 3, func(r io.Reader) error {
		b, err := io.ReadAll(r)
		part = string(b)
		return err
	})
	if err != nil || part != "irs" {
		t.Fatalf("ranged get: %q, %v", part, err)
	}
	if info, err := c.Stat(ctx, "c/wal/b"); err != nil || info.Size != 3 || info.Key != "c/wal/b" {
		t.Fatalf("stat: %+v, %v", info, err)
	}
	if got := contents(t, c); strings.Join(got, " ") != "c/wal/a:5 c/wal/b:3" {
		t.Fatalf("list: %v", got)
	}
	if err := c.Remove(ctx, "c/wal/none"); !errors.Is(err, storage.ErrPermission) {
		t.Fatalf("remove of a missing object: want ErrPermission (the policy first), got %v", err)
	}
}

// With AllowDelete and AllowOverwrite the refused operations go through.
func TestPolicyAllows(t *testing.T) {
	ctx := context.Background()
	backend := memory.New()
	ts := startServer(t, backend, remote.HandlerOptions{Token: rightToken, AllowDelete: true, AllowOverwrite: true})
	c := ts.client(t, remote.Config{Token: rightToken})
	for _, data := range []string{"one", "two"} {
		if err := c.Put(ctx, "c/k", strings.NewReader(data), 3, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Remove(ctx, "c/k"); err != nil {
		t.Fatal(err)
	}
	if n, err := storage.RemoveTemp(ctx, c, "c/"); err != nil || n != 0 {
		t.Fatalf("remove-temp on memory: %d, %v", n, err)
	}
	if got := contents(t, backend); len(got) != 0 {
		t.Fatalf("left %v", got)
	}
}
