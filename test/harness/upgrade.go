package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Upgrade runs pg_upgrade from old, which must be stopped cleanly (Stop),
// into a new data directory made by initdb as StartPostgres makes one, and
// starts the upgraded server with opts (its NoInitdb and DataDir are set
// here). Only PostgreSQL 15 is installed, so it upgrades 15 to 15; the new
// cluster gets its own system identifier all the same, as in a
// major-version upgrade.
func Upgrade(t testing.TB, old *Postgres, opts PGOptions) *Postgres {
	t.Helper()
	if _, err := os.Stat(PGBin("pg_upgrade")); err != nil {
		Require(t, "PostgreSQL 15 program "+PGBin("pg_upgrade"), "apt-get install postgresql-15")
	}
	if old.running() {
		t.Fatalf("harness: Upgrade: the old server in %s is running; Stop it first", old.DataDir)
	}
	base := Dir(t)
	fresh := &Postgres{DataDir: filepath.Join(base, "data")}
	fresh.initdb(t, opts.InitdbArgs)
	ctx, cancel := context.WithTimeout(t.Context(), 5*pgCtlTimeout)
	defer cancel()
	bin := filepath.Dir(PGBin("pg_upgrade"))
	cmd := PGCommand(ctx, PGBin("pg_upgrade"), "--no-sync", "-U", "postgres",
		"-b", bin, "-B", bin, "-d", old.DataDir, "-D", fresh.DataDir,
		"-p", fmt.Sprint(FreePort(t)), "-P", fmt.Sprint(FreePort(t)), "-s", base)
	cmd.Dir = base // pg_upgrade writes its own files into the working directory
	cmd.Env = append(cmd.Environ(), old.Env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("harness: pg_upgrade %s -> %s: %v\n%s", old.DataDir, fresh.DataDir, err, out)
	}
	opts.NoInitdb, opts.DataDir, opts.InitdbArgs = true, fresh.DataDir, nil
	return StartPostgres(t, opts)
}
