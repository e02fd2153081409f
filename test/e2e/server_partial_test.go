package e2e

import (
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/test/harness"
)

// When every database node is lost, the archive ends in the receiver's
// .partial of the unfinished segment. The recovery window reaches into it
// (info shows it), and a point-in-time restore to a time inside it is
// accepted and returns exactly the rows committed before that time. Before,
// the window ended at the last complete segment and restore refused the
// target as outside the recovery window.
func TestServerRestoreIntoPartial(t *testing.T) {
	c := streamingCluster(t, posixRepo(t), nil)
	s := startServer(t, c, "partial", pgYAML(c)+"server:\n  partial-interval: 1s\n")
	waitReceiver(t, c.pg, 20*time.Second, "the receiver to stream")
	c.backup(t, "full")
	c.pg.Exec(t, "CREATE TABLE marks (id int PRIMARY KEY)")
	c.pg.Exec(t, "SELECT pg_switch_wal()") // the rows go into a segment that never completes

	conn, err := c.pg.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	insert := func(from, to int) {
		for i := from; i <= to; i++ {
			if _, err := conn.Exec(t.Context(), "INSERT INTO marks VALUES ($1)", i); err != nil {
				t.Fatal(err)
			}
		}
	}
	insert(1, 50)
	var target time.Time
	if err := conn.QueryRow(t.Context(), "SELECT pg_sleep(0.2), clock_timestamp()").Scan(nil, &target); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	insert(51, 100)
	end, err := pg.ParseLSN(c.pg.QueryString(t, "SELECT pg_current_wal_flush_lsn()"))
	if err != nil {
		t.Fatal(err)
	}
	harness.Wait(t, 20*time.Second, "the server to archive up to "+end.String(), func() (bool, error) {
		st, err := s.status(t)
		return err == nil && st.Stream != nil && st.Stream.Archived >= end, nil
	})
	c.pg.Kill(t) // every database node lost
	s.stop(t)

	segment := pg.SegmentOf(1, end, 16<<20)
	for _, name := range archivedSegments(t, c, "00000001") {
		if name == segment {
			t.Fatalf("%s is archived complete: the test needs it as a .partial only", segment)
		}
	}
	info := c.info(t)
	if len(info.Clusters) != 1 || len(info.Clusters[0].RecoveryWindows) != 1 {
		t.Fatalf("info: %+v, want one cluster with one recovery window", info)
	}
	if w, err := pg.ParseLSN(info.Clusters[0].RecoveryWindows[0].EndLSN); err != nil || w < end {
		t.Fatalf("recovery window ends at %s (%v), before the last commit's WAL at %s, which the .partial holds", w, err, end)
	}

	copy := c.restoreAndStart(t, "--target-time", target.UTC().Format("2006-01-02 15:04:05.999999-07"))
	if err := isPrefix(ids(t, copy), 50); err != nil {
		t.Fatalf("restore to %s, inside the .partial: %v", target, err)
	}
}
