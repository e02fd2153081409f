package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// metricValue returns the value of the unlabelled metric name.
func metricValue(t *testing.T, metrics, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no metric %s in:\n%s", name, metrics)
	return 0
}

// pgYAML points the configuration at c's server.
func pgYAML(c *cluster) string {
	return fmt.Sprintf("pg:\n  host: %s\n  port: %d\n", c.pg.Host, c.pg.Port)
}

// archivedSegments lists the complete segments of timeline tli in the
// posix repository, sorted.
func archivedSegments(t *testing.T, c *cluster, tli string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(c.repo.path, "e2e", "wal")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n := d.Name(); !d.IsDir() && len(n) == 24 && strings.HasPrefix(n, tli) {
			out = append(out, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// With no archive_command at all, pgkeep server streams every segment into
// the repository within seconds of the switch, byte-identical to pg_wal;
// the unfinished segment is uploaded as .partial so that the archive's lag
// is bounded without a switch; kill -9 and a restart leave no gap.
func TestServerStreamsWAL(t *testing.T) {
	c := streamingCluster(t, posixRepo(t), nil)
	s := startServer(t, c, "s1", pgYAML(c)+"server:\n  partial-interval: 1s\n")
	waitReceiver(t, c.pg, 20*time.Second, "the receiver in pg_stat_replication")
	c.backup(t, "full") // its WAL reaches the repository only through the stream
	c.pg.Pgbench(t, "-i", "-s", "10", "-q")
	c.pg.Pgbench(t, "-T", "3", "-c", "2")

	last := c.pg.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())")
	harness.Wait(t, 15*time.Second, last+" in the repository", func() (bool, error) {
		_, err := os.Stat(objectPath(c, last))
		return err == nil, nil
	})
	segs := archivedSegments(t, c, "00000001")
	if len(segs) < 5 || segs[len(segs)-1] != last {
		t.Fatalf("streamed segments %v, want at least 5 ending with %s", segs, last)
	}
	out := filepath.Join(c.dir, "restored")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	chownDir(t, out)
	for i, seg := range segs {
		if i > 0 && segs[i-1] >= seg {
			t.Fatalf("segments out of order: %v", segs)
		}
		dest := filepath.Join(out, seg)
		c.must(t, "archive-get", seg, dest)
		want, err := os.ReadFile(c.walPath(seg))
		if err != nil {
			t.Fatalf("%s left pg_wal: %v", seg, err)
		}
		got, _ := os.ReadFile(dest)
		if !bytes.Equal(got, want) {
			t.Fatalf("streamed %s differs from pg_wal's", seg)
		}
	}

	// Without a switch: the .partial upload brings the archive up to the
	// server's flush position within a few partial intervals.
	c.pg.Exec(t, "CREATE TABLE after_switch AS SELECT 1 AS id")
	s.waitArchived(t, c, 10*time.Second)
	cur := c.pg.QueryString(t, "SELECT pg_walfile_name(pg_current_wal_flush_lsn())")
	if _, err := os.Stat(objectPath(c, cur+".partial")); err != nil {
		t.Fatalf("no %s.partial in the repository: %v", cur, err)
	}
	harness.Wait(t, 15*time.Second, "/metrics to show the backup", func() (bool, error) {
		return strings.Contains(s.metrics(t), `pgkeep_backup_last_success_timestamp_seconds{type="full"}`), nil
	})
	m := s.metrics(t)
	if !strings.Contains(m, "pgkeep_server_active 1") {
		t.Errorf("/metrics does not say the server is active:\n%s", m)
	}
	if lag := metricValue(t, m, "pgkeep_archive_lag_bytes"); lag >= 16<<20 {
		t.Errorf("archive lag %v bytes on an idle server, want less than a segment", lag)
	}

	// kill -9 while pgbench writes, restart: no gap, no conflict.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	bench := make(chan error, 1)
	go func() {
		cmd := harness.PGCommand(ctx, harness.PGBin("pgbench"), "-h", c.pg.Host, "-p", fmt.Sprint(c.pg.Port), "-U", "postgres", "-T", "4", "-c", "2", "postgres")
		out, err := cmd.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, out)
		}
		bench <- err
	}()
	time.Sleep(2 * time.Second)
	s.kill()
	if err := <-bench; err != nil {
		t.Fatal(err)
	}
	s.restart(t)
	last = c.pg.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())")
	harness.Wait(t, 20*time.Second, last+" in the repository after the restart", func() (bool, error) {
		_, err := os.Stat(objectPath(c, last))
		return err == nil, nil
	})
	if r := c.run(t, "verify"); r.code != 0 {
		t.Fatalf("verify after kill -9 and restart: %s\nserver log:\n%s", r, s.logTail())
	}
	if strings.Contains(s.logTail(), "conflict") {
		t.Fatalf("the restarted server reports a conflict:\n%s", s.logTail())
	}
	s.stop(t)
}
