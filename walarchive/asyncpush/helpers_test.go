package asyncpush

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg/pgtest"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
	"github.com/pgkeep/pgkeep/walarchive"
)

const segSize = 1 << 20

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeSegment builds a segment of cluster sysid (PostgreSQL 15) with a
// valid long page header, filled with fill.
func fakeSegment(name string, sysid uint64, fill byte) []byte {
	return pgtest.Segment(name, sysid, segSize, fill)
}

// env is a repository with one cluster, a pg_wal-like source directory and
// a spool.
type env struct {
	t       *testing.T
	repo    *repo.Repo
	cluster *repo.ClusterInfo
	src     string
	spool   string
}

func newEnv(t *testing.T, s storage.Storage) *env {
	t.Helper()
	ctx := context.Background()
	if s == nil {
		s = memory.New()
	}
	r, err := repo.Init(ctx, repo.Options{Storage: s, Compression: repo.CompressZstd})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := r.CreateCluster(ctx, repo.ClusterInfo{Name: "main", SystemID: 42, PGVersion: 15, WALSegmentSize: segSize})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, repo: r, cluster: c, src: t.TempDir(), spool: filepath.Join(t.TempDir(), "spool")}
	if err := os.MkdirAll(filepath.Join(e.src, "archive_status"), 0o700); err != nil {
		t.Fatal(err)
	}
	return e
}

// wal writes a WAL file into the source directory and returns its path.
func (e *env) wal(name string, data []byte) string {
	e.t.Helper()
	p := filepath.Join(e.src, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) foreground() *Foreground {
	return &Foreground{
		Dir: e.spool, FailAfter: time.Minute,
		Cluster: func(context.Context) (*repo.ClusterInfo, error) { return e.cluster, nil },
	}
}

func (e *env) uploader() *Uploader {
	return &Uploader{
		Dir: e.spool, ProcessMax: 2, Poll: 5 * time.Millisecond, Log: quiet,
		Open: func(context.Context) (*repo.Repo, *repo.ClusterInfo, error) { return e.repo, e.cluster, nil },
	}
}

// push runs the foreground and fails the test on an error.
func (e *env) push(fg *Foreground, path string, want Outcome) {
	e.t.Helper()
	got, err := fg.Push(context.Background(), path)
	if err != nil || got != want {
		e.t.Fatalf("push %s: got %v, %v; want %v", filepath.Base(path), got, err, want)
	}
}

// archived returns what the repository holds under name, or nil.
func (e *env) archived(name string) []byte {
	e.t.Helper()
	dest := filepath.Join(e.t.TempDir(), name)
	err := walarchive.Get(context.Background(), e.repo, e.cluster, name, dest)
	if err != nil {
		return nil
	}
	b, err := os.ReadFile(dest)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// spooled lists the WAL files waiting in the spool.
func (e *env) spooled() []string {
	e.t.Helper()
	l, err := spoolDir{e.spool}.list()
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, q := range l.files {
		names = append(names, q.name)
	}
	return names
}

// runUntil runs u until cond holds (then cancels it) or it returns.
func runUntil(t *testing.T, u *Uploader, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if !cond() {
				t.Fatal("the uploader exited before the condition held")
			}
			return
		case <-time.After(5 * time.Millisecond):
			if ctx.Err() != nil {
				t.Fatal("timed out waiting for the uploader")
			}
			if cond() {
				cancel()
				<-done
				return
			}
		}
	}
}
