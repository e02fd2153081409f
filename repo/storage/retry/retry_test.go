package retry_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/posix"
	"github.com/pgkeep/pgkeep/repo/storage/retry"
	"github.com/pgkeep/pgkeep/repo/storage/storagetest"
)

func setup(t *testing.T, attempts int) (*storagetest.Faulty, *retry.Storage, storage.Storage) {
	t.Helper()
	dir := t.TempDir()
	p, err := posix.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := storagetest.NewFaulty(p)
	r := retry.New(f, retry.Options{Attempts: attempts, Base: time.Millisecond})
	check, err := posix.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return f, r, check
}

// The retry wrapper passes the conformance suite over a real backend.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) (storage.Storage, storage.Storage) {
		_, r, check := setup(t, 3)
		return r, check
	})
}

func TestInterruptedPutLeavesNothingAndRetryRecovers(t *testing.T) {
	ctx := context.Background()
	data := storagetest.Random(t, 3<<20)

	f, r, check := setup(t, 1)
	f.FailPuts(1)
	if err := r.Put(ctx, "c/wal/seg", bytes.NewReader(data), int64(len(data)), storage.PutOptions{}); !errors.Is(err, storagetest.ErrInjected) {
		t.Fatalf("interrupted put without retries: want injected fault, got %v", err)
	}
	if _, err := check.Stat(ctx, "c/wal/seg"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("interrupted put left a visible object: %v", err)
	}

	f, r, check = setup(t, 4)
	f.FailPuts(3)
	if err := r.Put(ctx, "c/wal/seg", bytes.NewReader(data), int64(len(data)), storage.PutOptions{IfAbsent: true}); err != nil {
		t.Fatalf("put with 3 interruptions and 4 attempts: %v", err)
	}
	if f.Calls("Put") != 4 {
		t.Fatalf("Put called %d times, want 4", f.Calls("Put"))
	}
	got, err := storage.ReadAll(ctx, check, "c/wal/seg")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after retries the object differs (err %v)", err)
	}
}

func TestGetRetriedButNotFoundIsNot(t *testing.T) {
	ctx := context.Background()
	f, r, _ := setup(t, 3)
	if err := r.Put(ctx, "k", bytes.NewReader([]byte("v")), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	f.FailGets(2)
	got, err := storage.ReadAll(ctx, r, "k")
	if err != nil || string(got) != "v" {
		t.Fatalf("get after 2 transient failures: %q %v", got, err)
	}
	before := f.Calls("Get")
	if _, err := storage.ReadAll(ctx, r, "missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if n := f.Calls("Get") - before; n != 1 {
		t.Fatalf("ErrNotFound was retried: %d calls", n)
	}
	f.FailGets(5)
	if _, err := storage.ReadAll(ctx, r, "k"); !errors.Is(err, storagetest.ErrInjected) {
		t.Fatalf("persistent failure: want the injected error, got %v", err)
	}
}

// A reader that cannot seek gets exactly one attempt.
func TestPutWithoutSeekerNotRetried(t *testing.T) {
	f, r, _ := setup(t, 5)
	f.FailPuts(1)
	err := r.Put(context.Background(), "k", io.MultiReader(bytes.NewReader(make([]byte, 100))), 100, storage.PutOptions{})
	if err == nil || f.Calls("Put") != 1 {
		t.Fatalf("non-seekable put: err %v after %d calls; want an error after 1", err, f.Calls("Put"))
	}
}
