package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// Bad restore input: one clear line each, exit non-zero, nothing written.
func TestRestoreRefusesBadInput(t *testing.T) {
	c := startArchiving(t, posixRepo(t))
	c.pg.Pgbench(t, "-i", "-s", "1", "-q")
	full := manifestOf(t, c.backup(t, "full", "--output", "json"))
	c.switchAndWait(t)
	dest := filepath.Join(harness.Dir(t), "never")
	pgTime := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05-07") }

	cases := []struct {
		name string
		args []string
		code int // 0: any failure code >= 2
		want []string
	}{
		{"unknown set", []string{"--set", "20200101-000000F"}, 0, []string{"20200101-000000F", full.Label}},
		{"malformed time", []string{"--target-time", "yesterday at noon"}, 2, []string{"yesterday at noon"}},
		{"malformed lsn", []string{"--target-lsn", "0-16"}, 2, []string{"0-16"}},
		{"two targets", []string{"--target-name", "x", "--target-immediate"}, 2, nil},
		{"before the oldest backup", []string{"--target-time", pgTime(time.Now().Add(-24 * time.Hour))}, 0, []string{"recovery window", full.Label}},
		{"after the newest WAL", []string{"--target-time", pgTime(time.Now().Add(24 * time.Hour))}, 0, []string{"recovery window", full.Label}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.run(t, append([]string{"restore", "--pgdata", dest}, tc.args...)...)
			if r.code < 2 || (tc.code != 0 && r.code != tc.code) {
				t.Fatalf("want a failure (exit %d), got %s", tc.code, r)
			}
			if strings.Count(r.stderr, "\n") != 1 {
				t.Fatalf("want one line on stderr, got %q", r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Fatalf("stderr %q does not mention %q", r.stderr, w)
				}
			}
			if _, err := os.Stat(dest); !os.IsNotExist(err) {
				t.Fatalf("a refused restore created %s", dest)
			}
		})
	}
}
