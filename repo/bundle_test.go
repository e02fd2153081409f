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
	// Every part records the XXH3 of its bytes, and one that does not match
	// them is a checksum error too; a part without one (a backup of an
	// earlier version) reads as before.
	for i, p := range parts {
		if p.Quick != QuickSumOf(data[i]) || p.Quick.IsZero() {
			t.Fatalf("part %d: xxh3 %s, want %s", i, p.Quick, QuickSumOf(data[i]))
		}
	}
	bad = parts[1]
	bad.Quick[15] ^= 1
	if err := r.ReadPart(ctx, "c", bad, &bytes.Buffer{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("wrong xxh3: %v", err)
	}
	old := parts[1]
	old.Quick = QuickSum{}
	if err := r.ReadPart(ctx, "c", old, &bytes.Buffer{}); err != nil {
		t.Fatalf("part without xxh3: %v", err)
	}
	// An aborted bundle leaves nothing.
	a := r.NewBundleWriter(ctx, "c", "20261122-101500F", 2)
	a.Add([]byte("x"))
	a.Abort()
	if _, err := r.Storage().Stat(ctx, BundleKey("c", "20261122-101500F", 2)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("aborted bundle: %v", err)
	}
}

func TestManifestRoundTrip(t *testing.T) {
	ctx := context.Background()
	r, err := Init(ctx, Options{Storage: memory.New(), CipherPass: []byte("x"), Compression: CompressZstd})
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Label: "20261122-101500F", Type: BackupFull, Cluster: "c", SystemID: 1 << 62,
		Files: []File{{Path: "base/1/1", Size: 3, Parts: []Part{{Size: 3, Digest: r.Codec().Digest([]byte("abc")), Label: "20261122-101500F", Bundle: 1}}}}}
	if err := r.WriteManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadManifest(ctx, "c", m.Label)
	if err != nil || got.Files[0].Parts[0].Digest != m.Files[0].Parts[0].Digest || got.SystemID != m.SystemID {
		t.Fatalf("%+v %v", got, err)
	}
	if err := r.WriteManifest(ctx, m); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second manifest under one label: %v", err)
	}
	if labels, err := r.Backups(ctx, "c"); err != nil || len(labels) != 1 {
		t.Fatalf("backups: %v %v", labels, err)
	}
	if _, err := r.ReadManifest(ctx, "c", "20261122-101501F"); !errors.Is(err, ErrNoBackup) {
		t.Fatalf("unknown label: %v", err)
	}
}
