package walarchive

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/test/harness"
)

func TestReceiverArchivesEverySegment(t *testing.T) {
	t.Parallel()
	e := newRecvEnv(t, harness.StartPostgres(t, harness.PGOptions{Conf: keepWAL}))
	spool := t.TempDir()
	rr := start(t, e.options(t, spool))
	first := rr.waitStreaming(t)
	if first.Start%pg.LSN(e.cluster.WALSegmentSize) != 0 || first.Timeline != 1 {
		t.Fatalf("streaming starts at %s on timeline %d, want a segment start on timeline 1", first.Start, first.Timeline)
	}

	e.pg.Pgbench(t, "-i", "-s", "5", "-q")
	e.pg.Pgbench(t, "-T", "3", "-c", "2")
	last := e.pg.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())")
	names := segments(t, first.Segment, last, e.cluster.WALSegmentSize)
	if len(names) < 4 {
		t.Fatalf("only %d segments of WAL (%v): the test wants several", len(names), names)
	}
	e.waitArchived(t, names...)
	e.sameAsServer(t, e.pg, names...)

	harness.Wait(t, archiveTimeout, "the spool to hold only the current segment", func() (bool, error) {
		files, err := filepath.Glob(filepath.Join(spool, "0*"))
		want := filepath.Join(spool, rr.Status().Segment+".partial")
		return len(files) == 1 && files[0] == want, err
	})
	st := rr.Status()
	end := names[len(names)-1]
	w, _ := pg.ParseWALName(end)
	if segEnd := w.StartLSN(e.cluster.WALSegmentSize) + pg.LSN(e.cluster.WALSegmentSize); st.Archived < segEnd || st.Flushed < segEnd || st.UploadError != "" {
		t.Errorf("status %+v: want flushed and archived at least %s", st, segEnd)
	}
	for _, name := range names {
		if ok, err := Exists(t.Context(), e.repo, mainGen, name+".partial"); ok || err != nil {
			t.Errorf("%s.partial is still archived next to the segment (%v)", name, err)
		}
	}
	if err := rr.stop(); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
}

func TestReceiverUploadsPartialSegment(t *testing.T) {
	t.Parallel()
	e := newRecvEnv(t, harness.StartPostgres(t, harness.PGOptions{Conf: keepWAL}))

	other, _, err := e.repo.CreateCluster(t.Context(), repo.ClusterInfo{Name: "other", SystemID: e.cluster.SystemID + 1,
		PGVersion: 15, WALSegmentSize: e.cluster.WALSegmentSize})
	if err != nil {
		t.Fatal(err)
	}
	o := e.options(t, t.TempDir())
	o.Cluster = other
	r, err := NewReceiver(o)
	if err != nil {
		t.Fatal(err)
	}
	err = r.Run(t.Context())
	if !errors.Is(err, repo.ErrClusterMismatch) || !bytes.Contains([]byte(err.Error()), fmt.Append(nil, e.cluster.SystemID+1)) {
		t.Fatalf("streaming another cluster's server: %v", err)
	}

	o = e.options(t, t.TempDir())
	o.PartialInterval = 500 * time.Millisecond
	rr := start(t, o)
	rr.waitStreaming(t)
	traffic(t, e.pg, 1)
	seg := e.pg.QueryString(t, "SELECT pg_walfile_name(pg_current_wal_lsn())")
	end := lsn(t, e.pg, "SELECT pg_current_wal_lsn()")
	w, _ := pg.ParseWALName(seg)
	want := int(end - w.StartLSN(e.cluster.WALSegmentSize))

	var got []byte
	harness.Wait(t, archiveTimeout, fmt.Sprintf("%s.partial with at least %d bytes", seg, want), func() (bool, error) {
		ok, err := Exists(t.Context(), e.repo, mainGen, seg+".partial")
		if ok {
			got = e.archived(t, seg+".partial")
		}
		return len(got) >= want, err
	})
	server, err := os.ReadFile(filepath.Join(e.pg.DataDir, "pg_wal", seg))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || len(got) > len(server) || !bytes.Equal(got, server[:len(got)]) {
		t.Fatalf("%s.partial (%d bytes) is not the start of the server's segment", seg, len(got))
	}
	if st := rr.Status(); st.Archived < end {
		t.Errorf("status says archived %s, the .partial holds %s", st.Archived, end)
	}
}
