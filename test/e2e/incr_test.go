package e2e

import (
	"encoding/json"
	"testing"
)

// manifestOf decodes `pgkeep backup --output json`.
func manifestOf(t *testing.T, r result) (m struct {
	Label      string `json:"label"`
	Type       string `json:"type"`
	Parent     string `json:"parent"`
	Size       int64  `json:"size"`
	StoredSize int64  `json:"stored-size"`
}) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("backup --output json: %v in %q", err, r.stdout)
	}
	return m
}

// tableSums fingerprints every user table: row count and a hash sum.
func tableSums(t *testing.T, c interface {
	QueryString(testing.TB, string, ...any) string
}) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tbl := range []string{"big", "pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"} {
		out[tbl] = c.QueryString(t, "SELECT count(*) || ':' || coalesce(sum(hashtext(x::text)::bigint), 0) FROM "+tbl+" x")
	}
	return out
}

// An incr backup after a short pgbench run stores far less than the full
// one, and restoring it gives exactly the source's data.
func TestIncrementalBackup(t *testing.T) {
	c := startArchiving(t, posixRepo(t))
	c.pg.Exec(t, "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v, g % 977 AS k FROM generate_series(1, 1000000) g")
	c.pg.Pgbench(t, "-i", "-s", "2", "-q")
	full := manifestOf(t, c.backup(t, "full", "--output", "json"))
	c.pg.Pgbench(t, "-T", "3", "-c", "2")
	incr := manifestOf(t, c.backup(t, "incr", "--output", "json"))
	if incr.Type != "incr" || incr.Parent != full.Label {
		t.Fatalf("incr backup: %+v, want parent %s", incr, full.Label)
	}
	if ratio := float64(incr.StoredSize) / float64(full.StoredSize); ratio > 0.3 {
		t.Fatalf("incr stored %d bytes, the full %d: ratio %.2f, want < 0.3", incr.StoredSize, full.StoredSize, ratio)
	}
	want := tableSums(t, c.pg)
	c.switchAndWait(t)

	copy := c.restoreAndStart(t, "--set", incr.Label)
	got := tableSums(t, copy)
	for tbl, w := range want {
		if got[tbl] != w {
			t.Errorf("table %s: restored %s, source %s", tbl, got[tbl], w)
		}
	}
}
