package walarchive

import (
	"bytes"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/test/harness"
)

// TestReceiverFollowsPromotion streams from a standby that is promoted: the
// receiver follows onto timeline 2, archives 00000002.history, the old
// timeline's last segment as .partial up to the switch point, and the new
// timeline's segments. It does so while streaming, and when it starts again
// after the promotion on a spool of timeline 1. In the boundary case the
// standby's WAL ends exactly at a segment boundary (a WAL switch, then the
// primary gone), as after a switchover of an idle primary: timeline 1's last
// segment is whole, and timeline 2 starts with the next one.
func TestReceiverFollowsPromotion(t *testing.T) {
	t.Parallel()
	for _, v := range []struct {
		name              string
		restart, boundary bool
	}{
		{"streaming", false, false},
		{"restarted", true, false},
		{"at-segment-boundary", false, true},
		{"restarted-at-segment-boundary", true, true},
	} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			testPromotion(t, v.restart, v.boundary)
		})
	}
}

func testPromotion(t *testing.T, restart, boundary bool) {
	conf := keepWAL
	if boundary { // nothing but the test writes WAL on the primary
		conf = map[string]string{"wal_keep_size": "'1GB'", "autovacuum": "off", "checkpoint_timeout": "'1h'"}
	}
	primary := harness.StartPostgres(t, harness.PGOptions{Conf: conf})
	standby := harness.StartStandby(t, primary, keepWAL)
	e := newRecvEnv(t, standby)
	o := e.options(t, t.TempDir())
	o.PartialInterval = 300 * time.Millisecond
	rr := start(t, o)
	rr.waitStreaming(t)
	traffic(t, primary, 2)
	rr.waitFlushed(t, lsn(t, primary, "SELECT pg_current_wal_flush_lsn()"))
	segSize := e.cluster.WALSegmentSize
	var end pg.LSN
	if boundary {
		end = endAtSegmentBoundary(t, primary, standby, segSize)
		rr.waitFlushed(t, end)
	}
	if restart {
		if err := rr.stop(); err != nil {
			t.Fatal(err)
		}
	}

	standby.Exec(t, "SELECT pg_promote()")
	if restart {
		rr = start(t, o)
	}
	harness.Wait(t, archiveTimeout, "the receiver to stream timeline 2", func() (bool, error) {
		return rr.Status().Timeline == 2, nil
	})
	e.waitArchived(t, "00000002.history")
	hist, err := repo.ParseHistory(e.archived(t, "00000002.history"))
	if err != nil || len(hist) != 1 || hist[0].Parent != 1 {
		t.Fatalf("00000002.history: %+v, %v", hist, err)
	}
	switchAt := hist[0].Switch
	if boundary && switchAt != end {
		t.Fatalf("timeline 2 starts at %s, want the segment boundary %s where the standby's WAL ended", switchAt, end)
	}

	traffic(t, standby, 1)
	last := standby.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())")
	names := segments(t, pg.SegmentOf(2, switchAt, segSize), last, segSize)
	e.waitArchived(t, names...)
	e.sameAsServer(t, standby, names...)

	if boundary {
		// Timeline 1 ends with a whole segment; no .partial follows it.
		whole := pg.SegmentOf(1, switchAt-1, segSize)
		e.waitArchived(t, whole)
		e.sameAsServer(t, standby, whole)
		if ok, err := Exists(t.Context(), e.repo, e.cluster, pg.SegmentOf(1, switchAt, segSize)+".partial"); ok || err != nil {
			t.Errorf("an empty .partial of timeline 1 after its last whole segment %s was archived (%v)", whole, err)
		}
		return
	}
	oldLast := pg.SegmentOf(1, switchAt, segSize) + ".partial"
	e.waitArchived(t, oldLast)
	partial, first := e.archived(t, oldLast), e.archived(t, names[0])
	if int64(len(partial)) != int64(switchAt)%segSize || !bytes.Equal(partial, first[:len(partial)]) {
		t.Errorf("%s has %d bytes, want the %d before the switch point %s, as in %s",
			oldLast, len(partial), int64(switchAt)%segSize, switchAt, names[0])
	}
}

// endAtSegmentBoundary switches the primary to a new WAL segment, waits
// until the standby has received the switch, and kills the primary before it
// writes anything else, so that the standby's WAL ends at a segment
// boundary, which it returns. A background record (the bgwriter's standby
// snapshot, every 15 s) may slip in between: then the primary is started
// again and it tries once more.
func endAtSegmentBoundary(t *testing.T, primary, standby *harness.Postgres, segSize int64) pg.LSN {
	t.Helper()
	for attempt := 1; ; attempt++ {
		end := lsn(t, primary, "SELECT pg_switch_wal()")
		if rem := int64(end) % segSize; rem != 0 {
			end += pg.LSN(segSize - rem)
		}
		harness.Wait(t, archiveTimeout, "the standby to receive the WAL switch", func() (bool, error) {
			got, err := standby.TryQueryString(t.Context(), "SELECT pg_last_wal_receive_lsn()")
			if err != nil {
				return false, err
			}
			l, err := pg.ParseLSN(got)
			return l >= end, err
		})
		primary.Kill(t)
		if got := lsn(t, standby, "SELECT pg_last_wal_receive_lsn()"); got == end {
			return end
		} else if attempt == 3 {
			t.Fatalf("the primary wrote WAL after its WAL switch in %d attempts (the standby received up to %s, the switch ends at %s)", attempt, got, end)
		}
		primary.Start(t)
	}
}
