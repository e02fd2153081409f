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
// after the promotion on a spool of timeline 1.
func TestReceiverFollowsPromotion(t *testing.T) {
	t.Parallel()
	for _, restart := range []bool{false, true} {
		t.Run(map[bool]string{false: "streaming", true: "restarted"}[restart], func(t *testing.T) {
			t.Parallel()
			testPromotion(t, restart)
		})
	}
}

func testPromotion(t *testing.T, restart bool) {
	primary := harness.StartPostgres(t, harness.PGOptions{Conf: keepWAL})
	standby := harness.StartStandby(t, primary, keepWAL)
	e := newRecvEnv(t, standby)
	o := e.options(t, t.TempDir())
	o.PartialInterval = 300 * time.Millisecond
	rr := start(t, o)
	rr.waitStreaming(t)
	traffic(t, primary, 2)
	rr.waitFlushed(t, lsn(t, primary, "SELECT pg_current_wal_flush_lsn()"))
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
	segSize := e.cluster.WALSegmentSize

	traffic(t, standby, 1)
	last := standby.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())")
	names := segments(t, pg.SegmentOf(2, switchAt, segSize), last, segSize)
	e.waitArchived(t, names...)
	e.sameAsServer(t, standby, names...)

	oldLast := pg.SegmentOf(1, switchAt, segSize) + ".partial"
	e.waitArchived(t, oldLast)
	partial, first := e.archived(t, oldLast), e.archived(t, names[0])
	if int64(len(partial)) != int64(switchAt)%segSize || !bytes.Equal(partial, first[:len(partial)]) {
		t.Errorf("%s has %d bytes, want the %d before the switch point %s, as in %s",
			oldLast, len(partial), int64(switchAt)%segSize, switchAt, names[0])
	}
}
