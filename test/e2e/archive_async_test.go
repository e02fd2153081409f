package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/azurite"
	"github.com/pgkeep/pgkeep/test/harness"
)

// startAsyncArchiving is startArchiving with archive_command =
// 'pgkeep archive-push --async %p' (the spelling; --archive-async
// is the same setting) and a spool under the test's
// directory; archiveYAML adds settings to the archive: section. The
// uploader exits after 2 idle seconds; one still running at cleanup is
// killed before the directories go.
func startAsyncArchiving(t *testing.T, repo repoSetup, archiveYAML string) *cluster {
	t.Helper()
	c := &cluster{dir: harness.Dir(t), env: repo.env, repo: repo}
	c.config = filepath.Join(c.dir, "pgkeep.yaml")
	writeFile(t, c.config, fmt.Sprintf("cluster: e2e\nlog-level: info\n%sarchive:\n  spool-path: %s\n%s",
		repo.yaml, filepath.Join(c.dir, "spool"), archiveYAML))
	t.Cleanup(func() {
		if pid, ok := uploaderPID(c); ok {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	c.pg = harness.StartPostgres(t, harness.PGOptions{
		Conf: map[string]string{
			"archive_mode":    "on",
			"archive_command": fmt.Sprintf("'%s --config %s archive-push --async --async-idle 2s %%p'", pgkeepBin, c.config),
			"wal_keep_size":   "'4GB'",
			"max_wal_size":    "'4GB'",
		},
		Env: repo.env,
	})
	c.must(t, "create", "--pg-host", c.pg.Host, "--pg-port", strconv.Itoa(c.pg.Port))
	return c
}

// spoolDir is the cluster's async spool.
func spoolDir(c *cluster) string { return filepath.Join(c.dir, "spool", "archive-push", "e2e") }

// spooled lists the WAL files waiting in the spool.
func spooled(c *cluster) []string {
	entries, _ := os.ReadDir(spoolDir(c))
	var names []string
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && len(n) >= 24 && !strings.Contains(n[24:], ".tmp") && !strings.Contains(n, ".") {
			names = append(names, n)
		}
	}
	return names
}

// uploaderPID returns the pid of the cluster's running uploader.
func uploaderPID(c *cluster) (int, bool) {
	return workerPID(filepath.Join(spoolDir(c), "uploader.lock"), "--async-worker")
}

// workerPID returns the pid in a background worker's lock file, if that
// process is alive (not a zombie) and has flag on its command line.
func workerPID(lockFile, flag string) (int, bool) {
	b, err := os.ReadFile(lockFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || bytes.HasPrefix(stat[i+1:], []byte(" Z")) {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return pid, err == nil && bytes.Contains(cmdline, []byte(flag))
}

// waitDrained waits until the spool is empty and the uploader has exited.
func waitDrained(t *testing.T, c *cluster) {
	t.Helper()
	harness.Wait(t, 2*time.Minute, "the spool to empty and the uploader to exit", func() (bool, error) {
		_, running := uploaderPID(c)
		return !running && len(spooled(c)) == 0, nil
	})
}

// checkArchived compares every segment up to last in the archive with
// pg_wal's copy.
func checkArchived(t *testing.T, c *cluster, last string) []string {
	t.Helper()
	out := filepath.Join(c.dir, "restored")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	chownDir(t, out)
	segs := segmentsUpTo(t, last)
	for _, seg := range segs {
		dest := filepath.Join(out, seg)
		os.Remove(dest)
		c.must(t, "archive-get", seg, dest)
		want, err := os.ReadFile(c.walPath(seg))
		if err != nil {
			t.Fatalf("%s left pg_wal before the test read it: %v", seg, err)
		}
		if got, err := os.ReadFile(dest); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("archive-get %s: not byte-identical to pg_wal's copy (%v)", seg, err)
		}
	}
	return segs
}

// Async archiving under pgbench: every segment the archiver reports is in
// the repository byte-identical, the spool empties, the uploader exits,
// and check still works.
func TestAsyncArchive(t *testing.T) {
	t.Run("posix", func(t *testing.T) { testAsyncArchive(t, posixRepo(t)) })
	t.Run("azure", func(t *testing.T) { testAsyncArchive(t, azureRepo(t, azurite.Start(t))) })
}

func testAsyncArchive(t *testing.T, repo repoSetup) {
	c := startAsyncArchiving(t, repo, "  process-max: 4\n")
	c.pg.Pgbench(t, "-i", "-s", "30", "-q")
	c.pg.Pgbench(t, "-T", "3", "-c", "2")
	last := c.switchAndWait(t)
	waitDrained(t, c)

	archived, err := strconv.Atoi(c.pg.QueryString(t, "SELECT archived_count FROM pg_stat_archiver"))
	if err != nil {
		t.Fatal(err)
	}
	segs := checkArchived(t, c, last)
	if len(segs) < 20 || archived < len(segs) {
		t.Fatalf("archiver reports %d archived up to %s (%d segments); want at least 20", archived, last, len(segs))
	}
	if log, _ := os.ReadFile(filepath.Join(spoolDir(c), "uploader.log")); !bytes.Contains(log, []byte(`"msg":"archived"`)) {
		t.Fatalf("the uploader's log shows no upload:\n%s", log)
	}

	r := c.must(t, "check", "--archive-async", "--pg-host", c.pg.Host, "--pg-port", strconv.Itoa(c.pg.Port))
	if !strings.Contains(r.stdout, "archived") {
		t.Fatalf("check: %s", r)
	}
	waitDrained(t, c)
}

// A backlog of ready WAL (archiving was not configured while pgbench
// wrote it): the uploader archives it straight from pg_wal ahead of
// archive_command, which then finds its segments archived. Every segment is
// in the repository byte-identical, and many never went through the spool
// (14 of 16 on a 2-core machine; at least a third is required).
func TestAsyncArchiveBacklog(t *testing.T) {
	c := startAsyncArchiving(t, posixRepo(t), "  process-max: 2\n")
	command := c.pg.QueryString(t, "SHOW archive_command")
	c.pg.Exec(t, "ALTER SYSTEM SET archive_command = ''")
	c.pg.Exec(t, "SELECT pg_reload_conf()")
	c.pg.Pgbench(t, "-i", "-s", "20", "-q")
	c.pg.Exec(t, "SELECT pg_switch_wal()")
	statusDir := filepath.Join(c.pg.DataDir, "pg_wal", "archive_status")
	var backlog int
	harness.Wait(t, time.Minute, "the backlog's .ready files", func() (bool, error) {
		entries, err := os.ReadDir(statusDir)
		backlog = 0
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".ready") {
				backlog++
			}
		}
		return backlog >= 8, err
	})

	c.pg.Exec(t, "ALTER SYSTEM SET archive_command = '"+strings.ReplaceAll(command, "'", "''")+"'")
	c.pg.Exec(t, "SELECT pg_reload_conf()")
	last := c.switchAndWait(t)
	waitDrained(t, c)
	checkArchived(t, c, last)

	log, err := os.ReadFile(filepath.Join(spoolDir(c), "uploader.log"))
	if err != nil {
		t.Fatal(err)
	}
	ahead := bytes.Count(log, []byte(`"ahead":true`))
	if ahead < backlog/3 {
		t.Fatalf("the uploader archived %d of a backlog of %d ready segments from pg_wal; want at least a third:\n%s", ahead, backlog, log)
	}
	if bytes.Contains(log, []byte(`"level":"ERROR"`)) || bytes.Contains(log, []byte(`"level":"WARN"`)) {
		t.Fatalf("the uploader logged problems:\n%s", log)
	}
	t.Logf("backlog of %d ready segments; %d archived from pg_wal by the look-ahead", backlog, ahead)
}
