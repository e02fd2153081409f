package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/test/harness"
)

// buildLibzstd builds pgkeep as make build-libzstd does (libzstd linked in
// statically) into a directory the PostgreSQL OS user can read.
func buildLibzstd(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		harness.Require(t, "gcc", "apt-get install gcc libc6-dev libzstd-dev")
	}
	bin := filepath.Join(filepath.Dir(pgkeepBin), "pgkeep-libzstd")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-tags", "libzstd netgo osusergo",
		"-ldflags", "-linkmode external -extldflags -static", "-o", bin, "github.com/pgkeep/pgkeep/cmd/pgkeep")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		if strings.Contains(string(out), "zstd.h") || strings.Contains(string(out), "libzstd") {
			harness.Require(t, "libzstd-dev", "apt-get install libzstd-dev")
		}
		t.Fatalf("go build -tags libzstd: %v\n%s", err, out)
	}
	return bin
}

// The libzstd build and the pure-Go build share one repository: WAL that
// one archived and a full backup that one took are what an incremental of
// the other refers to, and either build restores the result exactly.
func TestLibzstdBuild(t *testing.T) {
	lz := buildLibzstd(t)
	repo := posixRepo(t)
	if v := runBinary(t, lz, repo.env, "version"); v.code != 0 || !strings.Contains(v.stdout, "libzstd") {
		t.Fatalf("pgkeep-libzstd version: %s (want libzstd named)", v)
	}
	if v := pgkeep(t, repo.env, "version"); strings.Contains(v.stdout, "libzstd") {
		t.Fatalf("the default build names libzstd: %s", v)
	}

	c := startArchivingWith(t, lz, repo)
	withBin := func(bin string, args ...string) result {
		t.Helper()
		r := runBinary(t, bin, c.env, append([]string{"--config", c.config}, args...)...)
		if r.code != 0 {
			t.Fatalf("%s %s: %s", filepath.Base(bin), strings.Join(args, " "), r)
		}
		return r
	}
	pgArgs := []string{"--pg-host", c.pg.Host, "--pg-port", strconv.Itoa(c.pg.Port)}

	c.pg.Exec(t, "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v, g % 977 AS k FROM generate_series(1, 300000) g")
	c.pg.Pgbench(t, "-i", "-s", "2", "-q")
	full := manifestOf(t, withBin(lz, append([]string{"backup", "--type", "full", "--output", "json"}, pgArgs...)...))
	c.pg.Pgbench(t, "-T", "2", "-c", "2")
	incr := manifestOf(t, withBin(pgkeepBin, append([]string{"backup", "--type", "incr", "--output", "json"}, pgArgs...)...))
	if incr.Parent != full.Label {
		t.Fatalf("incr backup of the default build: parent %q, want the libzstd build's full %s", incr.Parent, full.Label)
	}
	want := tableSums(t, c.pg)
	c.switchAndWait(t)
	withBin(pgkeepBin, "verify")

	for _, bin := range []string{pgkeepBin, lz} {
		dir := filepath.Join(harness.Dir(t), "data")
		withBin(bin, "restore", "--pgdata", dir, "--set", incr.Label)
		copy := c.startRestored(t, dir)
		got := tableSums(t, copy)
		for tbl, w := range want {
			if got[tbl] != w {
				t.Errorf("restored by %s: table %s is %s, the source's %s", filepath.Base(bin), tbl, got[tbl], w)
			}
		}
		copy.Stop(t)
	}
}
