package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// switchSegment writes a little and switches WAL; it returns the finished
// segment's name.
func switchSegment(t *testing.T, c *cluster) string {
	t.Helper()
	c.pg.Exec(t, "INSERT INTO filler SELECT generate_series(1, 1000)")
	return c.pg.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())")
}

// waitArchivedPast waits until the archiver reports seg archived, switching
// WAL every few seconds to wake an archiver that sleeps after failures.
func waitArchivedPast(t *testing.T, c *cluster, seg string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for wake := time.Now(); ; {
		last, err := c.pg.TryQueryString(context.Background(), "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
		if err == nil && last >= seg {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("archiver never reported %s archived (last %q, %v); server log:\n%s", seg, last, err, c.pg.LogTail(30))
		}
		if time.Since(wake) > 3*time.Second {
			switchSegment(t, c)
			wake = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// assertOneLineFailure checks a pgkeep run failed with exit >= 3 and one
// line of stderr holding every part of want.
func assertOneLineFailure(t *testing.T, r result, want ...string) {
	t.Helper()
	ok := r.code >= 3 && strings.Count(r.stderr, "\n") == 1
	for _, w := range want {
		ok = ok && strings.Contains(r.stderr, w)
	}
	if !ok {
		t.Fatalf("want exit >= 3 and one line with %q, got %s", want, r)
	}
}

// The repository becomes unreachable (its path is a file) with a small
// queue limit: pushes are accepted until the spool holds the limit, then
// fail loudly and leave the WAL in pg_wal; an uploader failing for longer
// than archive.timeout is reported; once the repository is back every
// segment arrives.
func TestAsyncArchiveQueueLimit(t *testing.T) {
	repo := posixRepo(t)
	c := startAsyncArchiving(t, repo, "  queue-max-mb: 48\n  timeout: 10m\n")
	c.pg.Exec(t, "CREATE TABLE filler (x int)")
	c.switchAndWait(t) // the spool now caches the cluster's registration

	away := repo.path + ".away"
	if err := os.Rename(repo.path, away); err != nil {
		t.Fatal(err)
	}
	writeFile(t, repo.path, "not a repository\n")
	var last string
	for range 6 {
		last = switchSegment(t, c)
	}
	harness.Wait(t, 2*time.Minute, "archive-push to refuse WAL with a full spool", func() (bool, error) {
		return strings.Contains(c.pg.LogTail(100), "async archive spool full"), nil
	})
	if q := spooled(c); len(q) < 3 || len(q) > 4 {
		t.Fatalf("spool holds %v; want the 48 MB limit (3 segments, 4 with a racing look-ahead)", q)
	}

	// PostgreSQL keeps what was refused: still .ready in pg_wal.
	var refused []string
	for _, seg := range segmentsUpTo(t, last) {
		if _, err := os.Stat(filepath.Join(c.pg.DataDir, "pg_wal", "archive_status", seg+".ready")); err == nil && !slices.Contains(spooled(c), seg) {
			refused = append(refused, seg)
		}
	}
	if len(refused) == 0 {
		t.Fatal("no refused segment is waiting in pg_wal")
	}
	r := c.run(t, "archive-push", "--archive-async", c.walPath(refused[0]))
	assertOneLineFailure(t, r, "spool full", "MB of WAL queued", "the limit (archive.queue-max-mb) is 48 MB", "not keeping up or is unreachable")

	// With archive.timeout short, the uploader's recorded failures (of a
	// queued file, or of opening the repository) fail every push.
	harness.Wait(t, time.Minute, "archive-push to report the failing uploader", func() (bool, error) {
		r = c.run(t, "archive-push", "--archive-async", "--archive-timeout", "1s", c.walPath(refused[0]))
		return r.code >= 3 && strings.Contains(r.stderr, "the uploader could not"), nil
	})
	assertOneLineFailure(t, r, "async archive uploader failing", "not a directory")

	if err := os.Remove(repo.path); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(away, repo.path); err != nil {
		t.Fatal(err)
	}
	waitArchivedPast(t, c, last)
	waitDrained(t, c)
	checkArchived(t, c, last)
}

// A spooled file whose name the repository holds with other content: the
// push of it and every later push fail with the conflict, the stored
// object unchanged; once the operator fixes the repository and removes the
// error marker, everything arrives.
func TestAsyncArchiveConflict(t *testing.T) {
	c := startAsyncArchiving(t, posixRepo(t), "")
	c.pg.Exec(t, "CREATE TABLE filler (x int)")
	c.switchAndWait(t)

	// Other content under the name of the segment being written.
	c.pg.Exec(t, "INSERT INTO filler SELECT generate_series(1, 1000)")
	seg := c.pg.QueryString(t, "SELECT pg_walfile_name(pg_current_wal_lsn())")
	plain, err := os.ReadFile(c.walPath(seg))
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Clone(plain)
	other[len(other)-1] ^= 0xFF
	otherPath := filepath.Join(c.dir, "other", seg)
	if err := os.MkdirAll(filepath.Dir(otherPath), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, otherPath, string(other))
	c.must(t, "archive-push", otherPath) // synchronous: the config does not set archive.async
	stored, err := os.ReadFile(objectPath(c, seg))
	if err != nil {
		t.Fatal(err)
	}

	if got := c.pg.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())"); got != seg {
		t.Fatalf("switched %s, expected %s", got, seg)
	}
	marker := filepath.Join(spoolDir(c), "error", seg)
	harness.Wait(t, time.Minute, "the uploader to record the conflict", func() (bool, error) {
		_, err := os.Stat(marker)
		return err == nil, nil
	})
	next := switchSegment(t, c)
	harness.Wait(t, time.Minute, "PostgreSQL to log the conflict", func() (bool, error) {
		return strings.Contains(c.pg.LogTail(100), "different content already archived"), nil
	})
	r := c.run(t, "archive-push", "--archive-async", c.walPath(seg))
	assertOneLineFailure(t, r, seg, "different content already archived")
	if now, _ := os.ReadFile(objectPath(c, seg)); !bytes.Equal(now, stored) {
		t.Fatal("the conflicting upload changed the stored object")
	}
	if !slices.Contains(spooled(c), seg) {
		t.Fatalf("the conflicting file left the spool: %v", spooled(c))
	}

	// The operator removes the wrong object and the marker.
	if err := os.Remove(objectPath(c, seg)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	waitArchivedPast(t, c, next)
	waitDrained(t, c)
	checkArchived(t, c, next)
}

// kill -9 of the uploader while it has work, three times under pgbench:
// the next push starts a new one and every segment arrives; a partial copy
// that a killed process left under its temporary name is removed, never
// archived.
func TestAsyncArchiveUploaderKilled(t *testing.T) {
	c := startAsyncArchiving(t, posixRepo(t), "  process-max: 2\n")
	c.pg.Exec(t, "CREATE TABLE filler (x int)")
	c.switchAndWait(t)
	const stray = "000000090000000000000001"
	partial := filepath.Join(spoolDir(c), stray+".2147483646.tmp") // a pid that cannot exist
	writeFile(t, partial, strings.Repeat("x", 1<<20))

	stop, killed := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		defer func() { killed <- n }()
		for n < 3 {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if pid, ok := uploaderPID(c); ok && len(spooled(c)) > 0 && syscall.Kill(pid, syscall.SIGKILL) == nil {
				n++
				time.Sleep(time.Second)
			}
		}
	}()
	c.pg.Pgbench(t, "-i", "-s", "30", "-q")
	close(stop)
	kills := <-killed
	if kills == 0 {
		t.Fatal("never found the uploader at work to kill")
	}
	t.Logf("killed the uploader %d times", kills)
	last := c.switchAndWait(t)
	waitDrained(t, c)
	checkArchived(t, c, last)
	log, _ := os.ReadFile(filepath.Join(spoolDir(c), "uploader.log"))
	if starts := bytes.Count(log, []byte("async uploader started")); starts <= kills {
		t.Fatalf("%d kills but %d uploader starts", kills, starts)
	}
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Fatalf("the partial copy is still in the spool (%v)", err)
	}
	if r := c.run(t, "archive-get", stray, filepath.Join(c.dir, "stray")); r.code != 1 {
		t.Fatalf("the partial copy reached the archive: %s", r)
	}
}
