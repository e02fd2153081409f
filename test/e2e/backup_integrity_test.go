package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/test/azurite"
	"github.com/pgkeep/pgkeep/test/harness"
)

// One damaged bundle byte: verify names the backup and the damaged file's
// bundle; restoring that set fails with a checksum error and leaves a
// directory PostgreSQL cannot start from.
func TestCorruptBackupObject(t *testing.T) {
	c := startArchiving(t, posixRepo(t))
	c.pg.Pgbench(t, "-i", "-s", "2", "-q")
	full := manifestOf(t, c.backup(t, "full", "--output", "json"))
	c.switchAndWait(t)
	if r := c.must(t, "verify"); r.code != 0 {
		t.Fatalf("verify of an intact repository: %s", r)
	}

	bundles, _ := filepath.Glob(filepath.Join(c.repo.path, "e2e", "backup", full.Label, "bundle", "*"))
	if len(bundles) == 0 {
		t.Fatal("no bundle to damage")
	}
	data, err := os.ReadFile(bundles[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x10
	if err := os.WriteFile(bundles[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Base(bundles[0])

	r := c.run(t, "verify")
	out := r.stdout + r.stderr
	if r.code == 0 || !strings.Contains(out, full.Label) || !strings.Contains(out, bundle) {
		t.Fatalf("verify of a damaged bundle: want a failure naming %s and bundle %s, got %s", full.Label, bundle, r)
	}

	dest := filepath.Join(harness.Dir(t), "data")
	r = c.run(t, "restore", "--pgdata", dest, "--set", full.Label)
	if r.code < 3 || !strings.Contains(r.stderr, "checksum") {
		t.Fatalf("restore of a damaged set: want a checksum error, got %s", r)
	}
	if _, err := os.Stat(filepath.Join(dest, "global", "pg_control")); !os.IsNotExist(err) {
		t.Fatal("a failed restore wrote global/pg_control: the copy could be started")
	}
}

// The full backup/restore round trip against Azure Blob Storage (Azurite).
func TestBackupRestoreAzure(t *testing.T) {
	c := startArchiving(t, azureRepo(t, azurite.Start(t)))
	c.pg.Pgbench(t, "-i", "-s", "2", "-q")
	full := manifestOf(t, c.backup(t, "full", "--output", "json"))
	c.pg.Exec(t, "CREATE TABLE marks (id int PRIMARY KEY)")
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(1, 500)")
	want := c.pg.QueryString(t, "SELECT sum(abalance) || ':' || count(*) FROM pgbench_accounts")
	c.switchAndWait(t)

	copy := c.restoreAndStart(t, "--set", full.Label)
	if err := isPrefix(ids(t, copy), 500); err != nil {
		t.Fatal(err)
	}
	if got := copy.QueryString(t, "SELECT sum(abalance) || ':' || count(*) FROM pgbench_accounts"); got != want {
		t.Fatalf("pgbench_accounts: restored %s, source %s", got, want)
	}
}
