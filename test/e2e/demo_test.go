package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// `pgkeep demo` (what `make demo` runs) goes through to its summary: three
// members bootstrapped, a backup, a kill -9 failover, the rejoin, and a
// point-in-time restore into a new cluster whose rows the demo checks.
func TestDemo(t *testing.T) {
	if _, err := exec.LookPath("etcd"); err != nil {
		harness.Require(t, "the etcd server binary", "apt-get install etcd-server")
	}
	if _, err := exec.LookPath(harness.PGBin("initdb")); err != nil {
		harness.Require(t, "PostgreSQL 15", "apt-get install postgresql-15")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pgkeepBin, "demo", "--pg-bin", filepath.Dir(harness.PGBin("initdb")))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("pgkeep demo: %v\n%s", err, out.String())
	}
	m := regexp.MustCompile(`summary: (pg\d) failed .*; (pg\d) accepted writes after ([0-9.]+m?s); .* rejoined as a replica in ([0-9.]+m?s); ` +
		`a new cluster restored to T has the 100 rows committed before T`).FindStringSubmatch(out.String())
	if m == nil || m[1] == m[2] {
		t.Fatalf("pgkeep demo: no summary with a failover to another member and 100 restored rows:\n%s", out.String())
	}
	t.Logf("demo: %s failed, %s took writes after %s, %s rejoined in %s", m[1], m[2], m[3], m[1], m[4])
}
