package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// backupLabels lists the backups `info --output json` shows.
func backupLabels(t *testing.T, c *cluster) []string {
	t.Helper()
	var labels []string
	for _, cl := range c.info(t).Clusters {
		for _, b := range cl.Backups {
			labels = append(labels, b.Label)
		}
	}
	return labels
}

// kill -9 during a backup leaves no listed backup; the next backup succeeds
// and removes the leftovers.
func TestBackupKilled(t *testing.T) {
	c := startArchiving(t, posixRepo(t))
	c.pg.Pgbench(t, "-i", "-s", "40", "-q")
	cmd := harness.PGCommand(t.Context(), pgkeepBin, "--config", c.config, "backup", "--type", "full",
		"--pg-host", c.pg.Host, "--pg-port", strconv.Itoa(c.pg.Port))
	cmd.Env = append(os.Environ(), c.env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pattern := filepath.Join(c.repo.path, "e2e", "backup", "*", "bundle", "*")
	harness.Wait(t, time.Minute, "the backup to publish a bundle", func() (bool, error) {
		m, err := filepath.Glob(pattern)
		return len(m) > 0, err
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	leftovers, _ := filepath.Glob(pattern)
	if len(leftovers) == 0 {
		t.Fatal("the killed backup left no bundle: the test did not interrupt it mid-way")
	}
	if labels := backupLabels(t, c); len(labels) != 0 {
		t.Fatalf("a killed backup is listed: %v", labels)
	}

	// The lock of the killed backup is stale only after its TTL; the next
	// backup must not wait for it forever: it takes the lock once expired
	// or reports who holds it.
	r := c.run(t, "backup", "--type", "full", "--pg-host", c.pg.Host, "--pg-port", strconv.Itoa(c.pg.Port))
	if r.code != 0 {
		t.Fatalf("backup after a killed one: %s", r)
	}
	if labels := backupLabels(t, c); len(labels) != 1 {
		t.Fatalf("after the second backup: %v", labels)
	}
	for _, l := range leftovers {
		if _, err := os.Stat(l); !os.IsNotExist(err) {
			t.Fatalf("leftover %s of the killed backup is still there", l)
		}
	}
}

// With archiving broken the backup waits for its WAL, then fails clearly
// and is not listed.
func TestBackupWithBrokenArchiving(t *testing.T) {
	c := startArchiving(t, posixRepo(t))
	c.pg.Exec(t, "ALTER SYSTEM SET archive_command = 'false'")
	c.pg.Reload(t)
	r := c.run(t, "backup", "--type", "full", "--archive-timeout", "3s",
		"--pg-host", c.pg.Host, "--pg-port", strconv.Itoa(c.pg.Port))
	if r.code < 3 || !strings.Contains(r.stderr, "was not archived within 3s") {
		t.Fatalf("backup with archive_command = false: want a clear failure, got %s", r)
	}
	if labels := backupLabels(t, c); len(labels) != 0 {
		t.Fatalf("a backup without its WAL is listed: %v", labels)
	}
}
