package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/restore"
	"github.com/pgkeep/pgkeep/test/harness"
)

// The recovery window ends at the last commit in the archive, not when its
// WAL reached the repository: recovery_target_time stops only before a
// commit after the target, so PostgreSQL fails a target after the last
// commit ("recovery ended before configured recovery target was
// reached"). info shows the last commit's time; restore refuses a target
// after it before writing anything, and one before it returns exactly the
// rows committed by then.
func TestWindowEndsAtLastCommit(t *testing.T) {
	c := startArchiving(t, posixRepo(t))
	c.pg.Exec(t, "ALTER SYSTEM SET autovacuum = off")
	c.pg.Exec(t, "SELECT pg_reload_conf()")
	c.pg.Exec(t, "CREATE TABLE marks (id int PRIMARY KEY)")
	c.backup(t, "full")
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(1, 10)")
	time.Sleep(100 * time.Millisecond)
	between := time.Now()
	time.Sleep(100 * time.Millisecond)
	before := time.Now()
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(11, 20)") // the last commit
	after := time.Now()
	time.Sleep(2 * time.Second) // the WAL reaches the repository well after it
	c.switchAndWait(t)

	var rep struct {
		Clusters []struct {
			RecoveryWindows []struct {
				StartTime       time.Time `json:"start-time"`
				EndTime         time.Time `json:"end-time"`
				EndIsLastCommit bool      `json:"end-is-last-commit"`
			} `json:"recovery-windows"`
		} `json:"clusters"`
	}
	if out := c.must(t, "info", "--output", "json").stdout; json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("info --output json: %s", out)
	}
	if len(rep.Clusters) != 1 || len(rep.Clusters[0].RecoveryWindows) != 1 {
		t.Fatalf("info: %+v; want one cluster with one recovery window", rep)
	}
	end := rep.Clusters[0].RecoveryWindows[0].EndTime
	if end.Before(before) || end.After(after) || !rep.Clusters[0].RecoveryWindows[0].EndIsLastCommit {
		t.Fatalf("the window ends at %s (last commit: %v); the last commit was between %s and %s", end.Format(time.RFC3339Nano),
			rep.Clusters[0].RecoveryWindows[0].EndIsLastCommit, before.Format(time.RFC3339Nano), after.Format(time.RFC3339Nano))
	}
	text := c.must(t, "info").stdout
	if !strings.Contains(text, "last commit)") {
		t.Fatalf("info does not say the window ends at the last commit:\n%s", text)
	}
	// The text shows the window as exactly as JSON does, with its zone:
	// an operator copies these times into --target-time.
	start, stop := windowTimes(t, text)
	if w := rep.Clusters[0].RecoveryWindows[0]; !start.Equal(w.StartTime) || !stop.Equal(w.EndTime) {
		t.Fatalf("info shows the window %s to %s, JSON says %s to %s:\n%s", start.Format(time.RFC3339Nano), stop.Format(time.RFC3339Nano),
			w.StartTime.Format(time.RFC3339Nano), w.EndTime.Format(time.RFC3339Nano), text)
	}

	pgTime := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.999999-07") }
	dest := filepath.Join(harness.Dir(t), "never")
	r := c.run(t, "restore", "--pgdata", dest, "--target-time", pgTime(after.Add(time.Second)))
	if r.code < 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "outside the recovery window") {
		t.Fatalf("restore to a time after the last commit: %s; want a one-line refusal", r)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatalf("a refused restore created %s", dest)
	}

	restored := c.restoreAndStart(t, "--target-time", pgTime(between))
	if err := isPrefix(ids(t, restored), 10); err != nil {
		t.Fatalf("restore to %s, between the two commits: %v", pgTime(between), err)
	}
}

// windowTimes reads the start and end times of the one "recovery window:"
// line of info's text output.
func windowTimes(t *testing.T, text string) (start, end time.Time) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "recovery window: ")
		if !ok {
			continue
		}
		from, to, ok := strings.Cut(rest, " to ")
		if !ok {
			break
		}
		var err error
		if start, err = restore.ParseTime(from[:strings.Index(from, " (")], time.Local); err != nil {
			t.Fatalf("window start in %q: %v", line, err)
		}
		if end, err = restore.ParseTime(to[:strings.Index(to, " (")], time.Local); err != nil {
			t.Fatalf("window end in %q: %v", line, err)
		}
		return start, end
	}
	t.Fatalf("no recovery window line in info:\n%s", text)
	return
}
