package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/test/harness"
)

// A second server under a registered cluster name is refused with both
// system identifiers, and its WAL cannot be pushed into the cluster.
func TestCreateRefusesAnotherSystem(t *testing.T) {
	c := startArchiving(t, posixRepo(t))
	other := harness.StartPostgres(t, harness.PGOptions{})
	sysA := c.pg.QueryString(t, "SELECT system_identifier FROM pg_control_system()")
	sysB := other.QueryString(t, "SELECT system_identifier FROM pg_control_system()")

	// The same server again: harmless.
	if r := c.must(t, "create", "--pg-host", c.pg.Host, "--pg-port", fmt.Sprint(c.pg.Port)); !strings.Contains(r.stdout, "already registered") {
		t.Fatalf("second create of the same server: %s", r)
	}
	// From PGDATA instead of a connection: the same identity.
	if r := c.must(t, "create", "--pgdata", c.pg.DataDir); !strings.Contains(r.stdout, sysA) {
		t.Fatalf("create from PGDATA: %s", r)
	}

	r := c.run(t, "create", "--pg-host", other.Host, "--pg-port", fmt.Sprint(other.Port))
	if r.code < 3 || !strings.Contains(r.stderr, sysA) || !strings.Contains(r.stderr, sysB) {
		t.Fatalf("create for another system: want exit >= 3 naming %s and %s, got %s", sysA, sysB, r)
	}

	// A segment of the other server is not WAL of this cluster.
	seg := other.QueryString(t, "SELECT pg_walfile_name(pg_current_wal_lsn())")
	r = c.run(t, "archive-push", filepath.Join(other.DataDir, "pg_wal", seg))
	if r.code < 3 || !strings.Contains(r.stderr, "system identifier") {
		t.Fatalf("push of another system's segment: want a refusal naming the system identifier, got %s", r)
	}
	if r := c.run(t, "archive-get", seg, filepath.Join(c.dir, "x")); r.code != 1 {
		t.Fatalf("the refused segment is in the archive: %s", r)
	}
}
