package walarchive

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/test/harness"
)

// TestReceiverResumesAfterCleanStop stops a receiver mid-segment and starts
// another on the same spool: no segment is missing or different.
func TestReceiverResumesAfterCleanStop(t *testing.T) {
	t.Parallel()
	e := newRecvEnv(t, harness.StartPostgres(t, harness.PGOptions{Conf: keepWAL}))
	dir := t.TempDir()
	o := e.options(t, dir)

	first := start(t, o)
	begin := first.waitStreaming(t)
	traffic(t, e.pg, 20)
	first.waitFlushed(t, lsn(t, e.pg, "SELECT pg_current_wal_flush_lsn()"))
	if err := first.stop(); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
	stopped := first.Status()
	sp := &spool{dir: dir}
	st, durable, ok, err := sp.readState()
	if err != nil || !ok || durable != stopped.Flushed || st.Timeline != 1 || stopped.Running {
		t.Fatalf("after the stop: state %+v at %s (%v, %v), status %+v", st, durable, ok, err, stopped)
	}

	second := start(t, o)
	resumed := second.waitStreaming(t)
	if want := durable - durable%pg.LSN(e.cluster.WALSegmentSize); resumed.Start != want {
		t.Errorf("resumed at %s, want %s (the start of the segment holding %s)", resumed.Start, want, durable)
	}
	traffic(t, e.pg, 20)
	last := e.pg.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())")
	names := segments(t, begin.Segment, last, e.cluster.WALSegmentSize)
	e.waitArchived(t, names...)
	e.sameAsServer(t, e.pg, names...)
}

// TestReceiverResumesCrashedSpool starts on a spool as a crash leaves it: a
// finished segment not yet uploaded, the current segment partly written,
// the state file in that segment.
func TestReceiverResumesCrashedSpool(t *testing.T) {
	t.Parallel()
	e := newRecvEnv(t, harness.StartPostgres(t, harness.PGOptions{Conf: keepWAL}))
	segSize := e.cluster.WALSegmentSize
	traffic(t, e.pg, 1)
	done := e.pg.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())")
	traffic(t, e.pg, 1)
	cur := e.pg.QueryString(t, "SELECT pg_walfile_name(pg_current_wal_flush_lsn())")
	flushed := lsn(t, e.pg, "SELECT pg_current_wal_flush_lsn()")
	if cur == done {
		t.Fatalf("no segment switch: %s", cur)
	}

	dir := t.TempDir()
	copyWAL(t, e.pg, done, filepath.Join(dir, done), segSize)
	n := int64(flushed) % segSize
	copyWAL(t, e.pg, cur, filepath.Join(dir, cur+".partial"), n)
	sp := &spool{dir: dir}
	if err := sp.writeState(e.cluster.SystemID, 1, flushed); err != nil {
		t.Fatal(err)
	}

	rr := start(t, e.options(t, dir))
	if st := rr.waitStreaming(t); st.Start != flushed-pg.LSN(n) || st.Segment != cur {
		t.Fatalf("started at %s in %s, want the start of %s", st.Start, st.Segment, cur)
	}
	e.waitArchived(t, done)
	traffic(t, e.pg, 1)
	last := e.pg.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())")
	names := segments(t, done, last, segSize)
	e.waitArchived(t, names...)
	e.sameAsServer(t, e.pg, names...)
	if _, err := os.Stat(filepath.Join(dir, done)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s is still in the spool after its upload: %v", done, err)
	}
}

// copyWAL copies the first n bytes of p's WAL segment name to dest.
func copyWAL(t *testing.T, p *harness.Postgres, name, dest string, n int64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.DataDir, "pg_wal", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dest, b[:n], 0o600); err != nil {
		t.Fatal(err)
	}
}
