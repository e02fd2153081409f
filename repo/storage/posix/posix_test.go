package posix_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/posix"
	"github.com/pgkeep/pgkeep/repo/storage/retry"
	"github.com/pgkeep/pgkeep/repo/storage/storagetest"
)

func open(t *testing.T, dir string) *posix.Posix {
	t.Helper()
	p, err := posix.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) (storage.Storage, storage.Storage) {
		dir := t.TempDir()
		return open(t, dir), open(t, dir)
	})
}

func TestModesAndNoTempLeftovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	p := open(t, dir)
	if err := p.Put(context.Background(), "c/wal/a/b", bytes.NewReader([]byte("x")), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700 | os.ModeDir
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
		if !fi.IsDir() && filepath.Base(path) != "b" {
			t.Errorf("leftover file %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRemoveLeavesNoEmptyDirs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	p := open(t, dir)
	ctx := context.Background()
	for _, k := range []string{"c/backup/L1/bundle/000001", "c/backup/L2/manifest"} {
		if err := p.Put(ctx, k, bytes.NewReader([]byte("x")), 1, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Remove(ctx, "c/backup/L1/bundle/000001"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "c", "backup", "L1")); !os.IsNotExist(err) {
		t.Fatalf("empty directories remain after Remove: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "c", "backup", "L2", "manifest")); err != nil {
		t.Fatalf("a sibling was removed: %v", err)
	}
	// Put recreates what Remove took away.
	if err := p.Put(ctx, "c/backup/L1/bundle/000002", bytes.NewReader([]byte("y")), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveTemp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	p := open(t, dir)
	ctx := context.Background()
	if err := p.Put(ctx, "c/backup/L1/manifest", bytes.NewReader([]byte("x")), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tmp := range []string{"c/backup/L2/bundle/.tmp-123", "c/backup/L1/.tmp-9", "c/wal/.tmp-1"} {
		path := filepath.Join(dir, filepath.FromSlash(tmp))
		os.MkdirAll(filepath.Dir(path), 0o700)
		if err := os.WriteFile(path, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Through the retry wrapper, as the CLI opens it.
	n, err := storage.RemoveTemp(ctx, retry.New(p, retry.Options{}), "c/backup/")
	if err != nil || n != 2 {
		t.Fatalf("RemoveTemp: %d, %v; want 2", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "c", "backup", "L2")); !os.IsNotExist(err) {
		t.Fatal("the emptied directory of an interrupted backup remains")
	}
	if _, err := os.Stat(filepath.Join(dir, "c", "wal", ".tmp-1")); err != nil {
		t.Fatal("a temporary file outside the prefix was removed")
	}
	if _, err := os.Stat(filepath.Join(dir, "c", "backup", "L1", "manifest")); err != nil {
		t.Fatal("an object was removed")
	}
}
