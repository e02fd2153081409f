package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/azurite"
	"github.com/pgkeep/pgkeep/test/harness"
)

// Point-in-time recovery through async archive-get: restore_command runs
// with archive.async, so a prefetcher fetches the segments after the one
// PostgreSQL asks for. Recovery returns exactly the rows committed before
// the target; most segments come out of the prefetcher's spool (the debug
// lines archive-get writes into the server log say so); the prefetcher
// leaves no error in its log, and exits and empties its spool once
// recovery stops asking.
func TestAsyncArchiveGet(t *testing.T) {
	t.Run("posix", func(t *testing.T) { testAsyncArchiveGet(t, posixRepo(t)) })
	t.Run("azure", func(t *testing.T) { testAsyncArchiveGet(t, azureRepo(t, azurite.Start(t))) })
}

func testAsyncArchiveGet(t *testing.T, repo repoSetup) {
	c := startArchiving(t, repo)
	c.pg.Exec(t, "CREATE TABLE marks (id int PRIMARY KEY)")
	c.backup(t, "full")
	c.pg.Pgbench(t, "-i", "-s", "10", "-q") // WAL to replay: nine segments
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(1, 100)")
	target := c.pg.QueryString(t, "SELECT pg_current_wal_insert_lsn()")
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(101, 150)")
	c.switchAndWait(t)

	spool := filepath.Join(c.dir, "get-spool")
	config := filepath.Join(c.dir, "async.yaml")
	writeFile(t, config, fmt.Sprintf("cluster: e2e\nlog-level: debug\n%sarchive:\n  async: true\n  spool-path: %s\n  get-queue-max-mb: 64\n",
		c.repo.yaml, spool))
	lock := filepath.Join(spool, "archive-get", "e2e", "*", "prefetch.lock")
	t.Cleanup(func() { // before the directories go
		locks, _ := filepath.Glob(lock)
		for _, l := range locks {
			if pid, ok := workerPID(l, "--prefetch-worker"); ok {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	dir := filepath.Join(harness.Dir(t), "data")
	mustPgkeep(t, c.env, "--config", config, "restore", "--pgdata", dir, "--target-lsn", target,
		"--restore-command", fmt.Sprintf("%s --config %s archive-get --prefetch-idle 2s %%f \"%%p\"", pgkeepBin, config))
	restored := c.startRestored(t, dir)
	if err := isPrefix(ids(t, restored), 100); err != nil {
		t.Fatalf("restored to %s through async archive-get: %v", target, err)
	}

	log, err := os.ReadFile(restored.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	var gets, prefetched int
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "msg=archive-get ") && strings.Contains(line, "err=<nil>") {
			gets++
			if strings.Contains(line, "prefetched=true") {
				prefetched++
			}
		}
	}
	if gets < 8 || 3*prefetched < 2*gets { // a loaded machine may replay faster than it fetches now and then
		t.Fatalf("%d segments restored, %d of them from the prefetcher's spool; want at least 8, two thirds of them from the spool\nserver log:\n%s",
			gets, prefetched, restored.LogTail(40))
	}

	locks, _ := filepath.Glob(lock)
	if len(locks) != 1 {
		t.Fatalf("%d prefetcher spools for one data directory: %v", len(locks), locks)
	}
	spoolDir := filepath.Dir(locks[0])
	harness.Wait(t, time.Minute, "the prefetcher to exit", func() (bool, error) {
		_, running := workerPID(locks[0], "--prefetch-worker")
		return !running, nil
	})
	entries, err := os.ReadDir(spoolDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n := e.Name(); n != "want" && n != "prefetch.lock" && n != "prefetch.log" {
			t.Errorf("the prefetcher left %s in its spool", n)
		}
	}
	plog, _ := os.ReadFile(filepath.Join(spoolDir, "prefetch.log"))
	if !strings.Contains(string(plog), "prefetcher started") || strings.Contains(string(plog), `"level":"ERROR"`) ||
		strings.Contains(string(plog), `"level":"WARN"`) {
		t.Fatalf("prefetch.log:\n%s", plog)
	}
}
