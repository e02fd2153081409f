package e2e

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/test/harness"
)

// When the leader key moves to a promoted replica, the server follows it
// onto the new timeline; a PITR restore to a point after the switch, from
// streamed WAL only (no archive_command anywhere), has exactly the rows
// committed before that point.
func TestServerFollowsLeaderChange(t *testing.T) {
	etcd, c, standby, s := followSetup(t, "follow")
	flushed := c.pg.QueryString(t, "SELECT pg_current_wal_flush_lsn()")
	harness.Wait(t, 20*time.Second, "the standby to replay "+flushed, func() (bool, error) {
		v, err := standby.TryQueryString(t.Context(), "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", flushed)
		return v == "true" || v == "t", err
	})

	// Failover as a controller does it: fence the old primary, promote, move the key.
	c.pg.Stop(t)
	standby.Exec(t, "SELECT pg_promote()")
	harness.Wait(t, 20*time.Second, "the promotion", func() (bool, error) {
		v, err := standby.TryQueryString(t.Context(), "SELECT pg_is_in_recovery()")
		return v == "false" || v == "f", err
	})
	writeOnNewLeader(t, etcd, standby, s)
	st, _ := s.status(t)
	if st.Leader == nil || st.Leader.Member != "pg-b" {
		t.Fatalf("status leader %+v, want pg-b", st.Leader)
	}
	if !strings.Contains(s.metrics(t), "pgkeep_stream_reconnects_total 1") {
		t.Errorf("one reconnect expected in the metrics")
	}

	restoreAfterSwitch(t, c)
	s.stop(t)
}

// Failover controllers take the leader key first and promote after, so the
// server finds the new leader still in recovery, and nothing in etcd
// changes when the promotion ends. The server must notice the end of the
// promotion soon: before, its backoff had grown to 8 s by then, and the new
// timeline's WAL went unarchived that long after every failover.
func TestServerFollowsPromotionUnderWay(t *testing.T) {
	etcd, c, standby, s := followSetup(t, "promoting")
	c.pg.Stop(t)
	putLeader(t, etcd, "pg-b", standby.Port) // still a standby
	harness.Wait(t, 20*time.Second, "the server to find pg-b in recovery", func() (bool, error) {
		st, err := s.status(t)
		return err == nil && st.Leader != nil && strings.Contains(st.Leader.Error, "is in recovery"), nil
	})
	time.Sleep(7 * time.Second) // a slow promotion: the old backoff grew to 8 s meanwhile
	standby.Exec(t, "SELECT pg_promote()")
	promoted := time.Now()
	// Five seconds is ten polls; the old backoff would connect 7 s after
	// the promotion at the earliest.
	waitReceiver(t, standby, 5*time.Second, "the server to stream from the promoted pg-b")
	t.Logf("streaming from pg-b %.1fs after its promotion", time.Since(promoted).Seconds())
	writeOnNewLeader(t, etcd, standby, s)

	// An incremental on the new timeline, whose parent is the full taken on
	// timeline 1, restores to exactly the rows committed before it.
	c.must(t, "backup", "--type", "incr", "--pg-host", standby.Host, "--pg-port", strconv.Itoa(standby.Port))
	info := c.info(t)
	if len(info.Clusters) != 1 || len(info.Clusters[0].Backups) != 2 {
		t.Fatalf("info: %+v, want one cluster with a full and an incremental", info)
	}
	full, incr := info.Clusters[0].Backups[0], info.Clusters[0].Backups[1]
	if !strings.HasPrefix(incr.Label, full.Label+"_") || !strings.HasSuffix(incr.Label, "I") || incr.Timeline != 2 {
		t.Fatalf("backups %+v, want a full and an incremental on it, on timeline 2", info.Clusters[0].Backups)
	}
	copy := c.restoreAndStart(t, "--set", incr.Label, "--target-immediate")
	if err := isPrefix(ids(t, copy), 300); err != nil {
		t.Fatalf("restore of the incremental %s taken on timeline 2: %v", incr.Label, err)
	}
	s.stop(t)
}

// A failover whose switch point falls exactly on a segment boundary (the
// old primary died right after a WAL switch, so the new timeline starts at
// the next segment): the receiver asks for the old timeline at the switch
// point itself, gets its end at once, and continues on the new timeline
// without a gap; a restore through the switch returns every row.
func TestServerFollowsLeaderChangeAtSegmentBoundary(t *testing.T) {
	etcd, c, standby, s := followSetup(t, "boundary")
	c.pg.Exec(t, "SELECT pg_switch_wal()")
	end := c.pg.QueryString(t, "SELECT pg_current_wal_flush_lsn()")
	harness.Wait(t, 20*time.Second, "the standby and the receiver to have "+end, func() (bool, error) {
		v, err := standby.TryQueryString(t.Context(), "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", end)
		w, err2 := c.pg.TryQueryString(t.Context(), "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pgkeep' AND flush_lsn >= $1::pg_lsn", end)
		return (v == "true" || v == "t") && w == "1", errors.Join(err, err2)
	})
	c.pg.Kill(t) // nothing after the switch reaches anyone

	standby.Exec(t, "SELECT pg_promote()")
	harness.Wait(t, 20*time.Second, "the promotion", func() (bool, error) {
		v, err := standby.TryQueryString(t.Context(), "SELECT pg_is_in_recovery()")
		return v == "false" || v == "f", err
	})
	// The case under test: timeline 1 ends exactly at a segment boundary.
	switchAt := standby.QueryString(t, "SELECT split_part(pg_read_file('pg_wal/00000002.history'), E'\t', 2)")
	at, err := pg.ParseLSN(switchAt)
	if err != nil || at%(16<<20) != 0 {
		t.Fatalf("timeline 1 ended at %q (%v), not at a segment boundary: the test does not test its case", switchAt, err)
	}
	t.Logf("timeline 1 ended at %s, a segment boundary", at)
	writeOnNewLeader(t, etcd, standby, s)
	restoreAfterSwitch(t, c)
	c.must(t, "verify")
	s.stop(t)
}

// followSetup starts pg-a (the leader in etcd) with a standby, a server
// named name streaming from pg-a, a full backup, and table marks with ids
// 1-100.
func followSetup(t *testing.T, name string) (*harness.Etcd, *cluster, *harness.Postgres, *serverProc) {
	t.Helper()
	etcd := harness.StartEtcd(t)
	c := streamingCluster(t, posixRepo(t), nil)
	standby := harness.StartStandby(t, c.pg, map[string]string{"wal_keep_size": "'1GB'"})
	putLeader(t, etcd, "pg-a", c.pg.Port)
	s := startServer(t, c, name, etcdYAML(etcd)+"server:\n  partial-interval: 1s\n")
	waitReceiver(t, c.pg, 20*time.Second, "the receiver to stream from pg-a")
	c.backup(t, "full")
	c.pg.Exec(t, "CREATE TABLE marks (id int PRIMARY KEY)")
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(1, 100)")
	return etcd, c, standby, s
}

// writeOnNewLeader moves the leader key to pg-b (the promoted standby),
// writes ids 101-200, the restore point after_switch, ids 201-300, and
// waits until the server has archived timeline 2 past them.
func writeOnNewLeader(t *testing.T, etcd *harness.Etcd, standby *harness.Postgres, s *serverProc) {
	t.Helper()
	putLeader(t, etcd, "pg-b", standby.Port)
	standby.Exec(t, "INSERT INTO marks SELECT generate_series(101, 200)")
	standby.Exec(t, "SELECT pg_create_restore_point('after_switch')")
	standby.Exec(t, "INSERT INTO marks SELECT generate_series(201, 300)")
	standby.Exec(t, "SELECT pg_switch_wal()")
	target, err := pg.ParseLSN(standby.QueryString(t, "SELECT pg_current_wal_flush_lsn()"))
	if err != nil {
		t.Fatal(err)
	}
	harness.Wait(t, 30*time.Second, "the server to archive timeline 2 up to "+target.String(), func() (bool, error) {
		st, err := s.status(t)
		return err == nil && st.Stream != nil && st.Stream.Timeline == 2 && st.Stream.Archived >= target, nil
	})
}

// restoreAfterSwitch restores c's repository to after_switch, from streamed
// WAL only, and checks that the rows are exactly ids 1-200.
func restoreAfterSwitch(t *testing.T, c *cluster) {
	t.Helper()
	copy := c.restoreAndStart(t, "--target-name", "after_switch")
	if err := isPrefix(ids(t, copy), 200); err != nil {
		t.Fatalf("restore to after_switch on timeline 2: %v", err)
	}
}
