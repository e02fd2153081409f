package walarchive

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/repo/storage/posix"
	"github.com/pgkeep/pgkeep/test/harness"
)

// archiveTimeout bounds the waits for WAL to reach the repository.
const archiveTimeout = 20 * time.Second

// recvEnv is a PostgreSQL server and a posix repository with the server's
// cluster registered as "main".
type recvEnv struct {
	pg      *harness.Postgres
	repo    *repo.Repo
	cluster *repo.ClusterInfo
}

// keepWAL keeps segments in pg_wal so that the tests can compare them.
var keepWAL = map[string]string{"wal_keep_size": "'1GB'"}

func newRecvEnv(t *testing.T, p *harness.Postgres) *recvEnv {
	t.Helper()
	ctx := t.Context()
	info, err := pg.QueryServerInfo(ctx, p.Conn(t))
	if err != nil {
		t.Fatal(err)
	}
	st, err := posix.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Init(ctx, repo.Options{Storage: st, Compression: repo.CompressZstd, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := r.CreateCluster(ctx, repo.ClusterInfo{Name: "main", SystemID: info.SystemID, PGVersion: info.Major(),
		PGVersionNum: info.VersionNum, WALSegmentSize: info.WALSegmentSize})
	if err != nil {
		t.Fatal(err)
	}
	return &recvEnv{pg: p, repo: r, cluster: c}
}

// options streams from the env's server into spool.
func (e *recvEnv) options(t *testing.T, spool string) ReceiverOptions {
	return ReceiverOptions{
		Repo: e.repo, Cluster: e.cluster, SpoolDir: spool,
		Conn:            pg.ConnOptions{Host: e.pg.Host, Port: e.pg.Port, User: "postgres", Database: "postgres"},
		PartialInterval: time.Second, StatusInterval: 200 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// running is a Receiver running in a goroutine.
type running struct {
	*Receiver
	cancel context.CancelFunc
	done   chan error
	err    error
	ended  bool
}

// start runs a receiver with o until stop or the end of the test.
func start(t *testing.T, o ReceiverOptions) *running {
	t.Helper()
	r, err := NewReceiver(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rr := &running{Receiver: r, cancel: cancel, done: make(chan error, 1)}
	go func() { rr.done <- r.Run(ctx) }()
	t.Cleanup(func() { rr.stop() })
	return rr
}

// stop cancels the receiver and returns what Run returned.
func (rr *running) stop() error {
	if !rr.ended {
		rr.cancel()
		rr.err, rr.ended = <-rr.done, true
	}
	return rr.err
}

// waitStreaming waits until the receiver streams and returns its status.
func (rr *running) waitStreaming(t *testing.T) ReceiverStatus {
	t.Helper()
	harness.Wait(t, 10*time.Second, "the receiver to stream", func() (bool, error) {
		select {
		case err := <-rr.done:
			rr.err, rr.ended = err, true
			t.Fatalf("receiver ended: %v", err)
		default:
		}
		return rr.Status().Segment != "", nil
	})
	return rr.Status()
}

// waitFlushed waits until the receiver's spool holds WAL up to lsn.
func (rr *running) waitFlushed(t *testing.T, lsn pg.LSN) {
	t.Helper()
	harness.Wait(t, archiveTimeout, "the receiver to flush "+lsn.String(), func() (bool, error) {
		return rr.Status().Flushed >= lsn, nil
	})
}

// lsn runs a query returning an LSN.
func lsn(t *testing.T, p *harness.Postgres, sql string) pg.LSN {
	t.Helper()
	l, err := pg.ParseLSN(p.QueryString(t, sql))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// segments lists the segment names from first to last on first's timeline.
func segments(t *testing.T, first, last string, segSize int64) []string {
	t.Helper()
	a, err1 := pg.ParseWALName(first)
	b, err2 := pg.ParseWALName(last)
	if err1 != nil || err2 != nil || b.SegNo(segSize) < a.SegNo(segSize) {
		t.Fatalf("segments %s..%s: %v %v", first, last, err1, err2)
	}
	var out []string
	for n := a.SegNo(segSize); n <= b.SegNo(segSize); n++ {
		out = append(out, pg.SegmentName(a.Timeline, n, segSize))
	}
	return out
}

// waitArchived waits until every one of names is in the repository.
func (e *recvEnv) waitArchived(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		harness.Wait(t, archiveTimeout, name+" in the repository", func() (bool, error) {
			return Exists(t.Context(), e.repo, e.cluster, name)
		})
	}
}

// archived returns the archived WAL file name.
func (e *recvEnv) archived(t *testing.T, name string) []byte {
	t.Helper()
	dest := filepath.Join(t.TempDir(), name)
	if err := Get(t.Context(), e.repo, e.cluster, name, dest); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameAsServer checks that the archived segments equal p's pg_wal copies.
func (e *recvEnv) sameAsServer(t *testing.T, p *harness.Postgres, names ...string) {
	t.Helper()
	for _, name := range names {
		want, err := os.ReadFile(filepath.Join(p.DataDir, "pg_wal", name))
		if err != nil {
			t.Fatal(err)
		}
		if got := e.archived(t, name); !bytes.Equal(got, want) {
			t.Errorf("archived %s (%d bytes) differs from the server's (%d bytes)", name, len(got), len(want))
		}
	}
}

// traffic writes about mb MiB of WAL.
func traffic(t *testing.T, p *harness.Postgres, mb int) {
	t.Helper()
	p.Exec(t, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS filler (x text);
		INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, %d)`, mb*1000))
}
