package repo

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
)

func TestBundleRoundTrip(t *testing.T) {
	ctx := context.Background()
	r, err := Init(ctx, Options{Storage: memory.New(), Compression: CompressZstd})
	if err != nil {
		t.Fatal(err)
	}
	b := r.NewBundleWriter(ctx, "c", "20261122-101500F", 1)
	data := [][]byte{[]byte("first file"), bytes.Repeat([]byte("x"), 100000), {}}
	var parts []Part
	for _, d := range data {
		p, err := b.Add(d)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for i, p := range parts {
		var out bytes.Buffer
		if err := r.ReadPart(ctx, "c", p, &out); err != nil || !bytes.Equal(out.Bytes(), data[i]) {
			t.Fatalf("part %d: %v", i, err)
		}
	}
	// A manifest digest that does not match is a checksum error.
	bad := parts[0]
	bad.Digest[0] ^= 1
	if err := r.ReadPart(ctx, "c", bad, &bytes.Buffer{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("wrong digest: %v", err)
	}
	// An aborted bundle leaves nothing.
	a := r.NewBundleWriter(ctx, "c", "20261122-101500F", 2)
	a.Add([]byte("x"))
	a.Abort()
	if _, err := r.Storage().Stat(ctx, BundleKey("c", "20261122-101500F", 2)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("aborted bundle: %v", err)
	}
}
