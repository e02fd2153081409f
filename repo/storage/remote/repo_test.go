package remote_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/posix"
	"github.com/pgkeep/pgkeep/repo/storage/remote"
	"github.com/pgkeep/pgkeep/walarchive"
)

const (
	segSize = 1 << 20
	sysID   = 7000000000000000042
)

// walSegment builds a segment of the test cluster whose first page has the
// long header archive-push checks (PostgreSQL 15 magic, system identifier,
// segment size, position).
func walSegment(t *testing.T, name string, fill byte) []byte {
	t.Helper()
	return walSegmentOf(t, name, sysID, fill)
}

// walSegmentOf is walSegment of system identifier sys.
func walSegmentOf(t *testing.T, name string, sys uint64, fill byte) []byte {
	t.Helper()
	w, err := pg.ParseWALName(name)
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.Repeat([]byte{fill}, segSize)
	pg.SegmentHeader(w, sys, segSize, 15).Put(b)
	return b
}

// The repository format works unchanged through the API: a repository
// created (encrypted) on the server's posix storage is opened by a database
// node through the client, which registers its cluster, pushes WAL and reads
// it back, all under the default policy.
func TestRepositoryThroughAPI(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	backend, err := posix.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	pass := []byte("correct horse battery staple")
	if _, err := repo.Init(ctx, repo.Options{Storage: backend, CipherPass: pass, Compression: repo.CompressZstd, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, backend, remote.HandlerOptions{Token: rightToken})
	client := ts.client(t, remote.Config{Token: rightToken})
	r, err := repo.Open(ctx, repo.Options{Storage: client, CipherPass: pass, Compression: repo.CompressZstd, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	c, created, err := r.CreateCluster(ctx, repo.ClusterInfo{Name: "main", SystemID: sysID, PGVersion: 15, WALSegmentSize: segSize})
	if err != nil || !created {
		t.Fatalf("create cluster: created=%v err=%v", created, err)
	}

	walDir, out := t.TempDir(), t.TempDir()
	push := func(name string, data []byte) (walarchive.PushResult, error) {
		t.Helper()
		path := filepath.Join(walDir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return walarchive.Push(ctx, r, c, path, quiet)
	}
	files := map[string][]byte{
		"000000010000000000000003": walSegment(t, "000000010000000000000003", 3),
		"000000010000000000000004": walSegment(t, "000000010000000000000004", 4),
		"00000002.history":         []byte("1\t0/5000000\tno recovery target specified\n"),
	}
	for name, data := range files {
		if res, err := push(name, data); err != nil || res.Already {
			t.Fatalf("push %s: %+v, %v", name, res, err)
		}
		if res, err := push(name, data); err != nil || !res.Already {
			t.Fatalf("second push of %s: %+v, %v", name, res, err)
		}
		dest := filepath.Join(out, name)
		if err := walarchive.Get(ctx, r, c, name, dest); err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
		if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
			t.Fatalf("get %s: %d bytes differing from the %d pushed", name, len(got), len(data))
		}
	}
	// The server stores what the client encoded: the plain WAL never reaches it.
	stored, err := os.ReadFile(filepath.Join(dir, "main", "wal", "0000000100000000", "000000010000000000000003"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, files["000000010000000000000003"][:64]) {
		t.Fatal("the stored object holds the plain segment header")
	}

	if _, err := push("000000010000000000000003", walSegment(t, "000000010000000000000003", 9)); !errors.Is(err, walarchive.ErrConflict) {
		t.Fatalf("conflicting push: want ErrConflict, got %v", err)
	}
	if err := walarchive.Get(ctx, r, c, "000000010000000000000009", filepath.Join(out, "x")); !errors.Is(err, walarchive.ErrNotFound) {
		t.Fatalf("get of a missing segment: want ErrNotFound, got %v", err)
	}
	sum, err := walarchive.Summarize(ctx, r, c)
	if err != nil || len(sum.Timelines) == 0 || len(sum.Timelines[0].Ranges) != 1 || sum.Timelines[0].Ranges[0].Count != 2 {
		t.Fatalf("summary through the API: %+v, %v", sum, err)
	}

	// A database node cannot rewrite the registration through the API: the
	// upgrade is refused, saying where to run it, and changes nothing.
	upgraded := repo.ClusterInfo{Name: "main", SystemID: sysID + 1, PGVersion: 16, WALSegmentSize: segSize}
	if _, _, err := r.UpgradeCluster(ctx, upgraded); err == nil || !strings.Contains(err.Error(), "the repository server's host") {
		t.Fatalf("upgrade through the API: %v", err)
	}
	if got, err := r.Cluster(ctx, "main"); err != nil || got.SystemID != sysID || len(got.History) != 0 {
		t.Fatalf("registration after the refused upgrade: %+v %v", got, err)
	}
	// Upgraded on the server's storage, the node pushes the new system's
	// WAL through the API into its own generation.
	direct, err := repo.Open(ctx, repo.Options{Storage: backend, CipherPass: pass, Compression: repo.CompressZstd, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := direct.UpgradeCluster(ctx, upgraded); err != nil {
		t.Fatal(err)
	}
	if c, err = r.Cluster(ctx, "main"); err != nil {
		t.Fatal(err)
	}
	const next = "000000010000000000000010"
	if res, err := push(next, walSegmentOf(t, next, sysID+1, 5)); err != nil || res.Key != "main/wal-2/0000000100000000/"+next {
		t.Fatalf("push of the upgraded system through the API: %+v %v", res, err)
	}

	// A stopped server makes archive-get fail, never report "not archived".
	ts.Close()
	err = walarchive.Get(ctx, r, c, "000000010000000000000009", filepath.Join(out, "y"))
	if err == nil || errors.Is(err, walarchive.ErrNotFound) || errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("get with the server down: want an error other than not-found, got %v", err)
	}
}

// archive-push repairs a damaged archived copy by replacing it, which only
// a server with AllowOverwrite permits; under the default policy the push
// fails loudly and the archive is unchanged.
func TestRepairOfDamagedWALNeedsOverwrite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	backend, err := posix.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Init(ctx, repo.Options{Storage: backend, Compression: repo.CompressZstd, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	const name = "000000010000000000000003"
	seg := walSegment(t, name, 3)
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, seg, 0o600); err != nil {
		t.Fatal(err)
	}
	open := func(opts remote.HandlerOptions) (*repo.Repo, *repo.ClusterInfo) {
		ts := startServer(t, backend, opts)
		r, err := repo.Open(ctx, repo.Options{Storage: ts.client(t, remote.Config{Token: rightToken}), Compression: repo.CompressZstd, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := r.CreateCluster(ctx, repo.ClusterInfo{Name: "main", SystemID: sysID, PGVersion: 15, WALSegmentSize: segSize})
		if err != nil {
			t.Fatal(err)
		}
		return r, c
	}
	r, c := open(remote.HandlerOptions{Token: rightToken})
	if _, err := walarchive.Push(ctx, r, c, path, quiet); err != nil {
		t.Fatal(err)
	}
	objPath := filepath.Join(dir, "main", "wal", "0000000100000000", name)
	damaged, err := os.ReadFile(objPath)
	if err != nil {
		t.Fatal(err)
	}
	damaged[len(damaged)/2] ^= 0xff
	if err := os.WriteFile(objPath, damaged, 0o600); err != nil {
		t.Fatal(err)
	}

	if _, err := walarchive.Push(ctx, r, c, path, quiet); !errors.Is(err, storage.ErrPermission) {
		t.Fatalf("repair under the default policy: want ErrPermission, got %v", err)
	}
	if got, _ := os.ReadFile(objPath); !bytes.Equal(got, damaged) {
		t.Fatal("a refused repair changed the archived object")
	}

	r, c = open(remote.HandlerOptions{Token: rightToken, AllowOverwrite: true})
	if _, err := walarchive.Push(ctx, r, c, path, quiet); err != nil {
		t.Fatalf("repair with AllowOverwrite: %v", err)
	}
	dest := filepath.Join(t.TempDir(), name)
	if err := walarchive.Get(ctx, r, c, name, dest); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, seg) {
		t.Fatal("the repaired segment differs")
	}
}
