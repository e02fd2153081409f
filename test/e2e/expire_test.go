package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// walNames lists the archived WAL segment names of timeline 1.
func walNames(t *testing.T, c *cluster) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(c.repo.path, "e2e", "wal", "00000001*", "00000001????????????????"))
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	slices.Sort(names)
	return names
}

// expire --retention-full 2 after three full backups removes the first set
// and only the WAL before the second set's start; PITR inside the retained
// window still works.
func TestExpireRetentionFull(t *testing.T) {
	c := startArchiving(t, posixRepo(t))
	c.pg.Pgbench(t, "-i", "-s", "1", "-q")
	c.pg.Exec(t, "CREATE TABLE marks (id int PRIMARY KEY)")
	var labels []string
	var startWAL []string
	for i := range 3 {
		c.pg.Pgbench(t, "-t", "200", "-c", "2")
		c.switchAndWait(t)
		r := c.backup(t, "full", "--output", "json")
		var m struct {
			Label    string `json:"label"`
			StartWAL string `json:"start-wal"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
			t.Fatal(err)
		}
		labels, startWAL = append(labels, m.Label), append(startWAL, m.StartWAL)
		if i < 2 {
			time.Sleep(1100 * time.Millisecond) // labels are per second
		}
	}
	// Rows between the second and third backups, for PITR.
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(1, 10)")
	c.switchAndWait(t)
	target := time.Now()
	time.Sleep(50 * time.Millisecond)
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(11, 20)")
	c.switchAndWait(t)
	before := walNames(t, c)

	dry := c.must(t, "expire", "--retention-full", "2", "--dry-run")
	if !strings.Contains(dry.stdout, labels[0]) || !slices.Equal(backupLabels(t, c), labels) || !slices.Equal(walNames(t, c), before) {
		t.Fatalf("dry run: want %s listed and nothing removed, got %s", labels[0], dry)
	}
	c.must(t, "expire", "--retention-full", "2")
	if got := backupLabels(t, c); !slices.Equal(got, labels[1:]) {
		t.Fatalf("after expire: backups %v, want %v", got, labels[1:])
	}
	if _, err := os.Stat(filepath.Join(c.repo.path, "e2e", "backup", labels[0])); !os.IsNotExist(err) {
		t.Fatalf("the expired backup's objects remain (err %v)", err)
	}
	after := walNames(t, c)
	for _, name := range before {
		kept := slices.Contains(after, name)
		if name < startWAL[1] && kept {
			t.Errorf("WAL %s, before the second backup's start %s, was kept", name, startWAL[1])
		}
		if name >= startWAL[1] && !kept {
			t.Errorf("WAL %s, needed from the second backup's start %s on, was removed", name, startWAL[1])
		}
	}

	copy := c.restoreAndStart(t, "--set", labels[1], "--target-time", target.UTC().Format(time.RFC3339Nano))
	if err := isPrefix(ids(t, copy), 10); err != nil {
		t.Fatalf("PITR inside the retained window: %v", err)
	}
}
