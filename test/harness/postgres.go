package harness

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// Timeouts for PostgreSQL operations.
const (
	pgCtlTimeout = 60 * time.Second // pg_ctl -t, and the context around pg_ctl
	readyTimeout = 30 * time.Second // until a started server takes connections
	sqlTimeout   = 30 * time.Second // one Exec / QueryString / Conn
	startTries   = 5                // ports tried when another process takes ours
)

// PGOptions configures [StartPostgres]. The zero value runs initdb and starts
// a fresh server.
type PGOptions struct {
	// Conf holds extra postgresql.conf settings, e.g. "archive_mode": "on".
	// Values are written as-is, so the caller quotes strings:
	// "archive_command": "'cp %p /x/%f'".
	Conf map[string]string
	// Env is extra environment for the postmaster, and so for
	// archive_command and restore_command.
	Env []string
	// InitdbArgs are extra initdb arguments, appended after the defaults.
	InitdbArgs []string
	// NoInitdb starts the server on the existing DataDir (e.g. a restored
	// copy) instead of running initdb.
	NoInitdb bool
	// DataDir is the existing data directory, with NoInitdb only. It must be
	// reachable by the PostgreSQL OS user: put it under [Dir]. When running as
	// root it is chowned to that user; its mode is tightened to 0700 if
	// PostgreSQL would refuse it.
	DataDir string
}

// Postgres is a PostgreSQL server started by [StartPostgres]. It listens on
// Host:Port over TCP and in SocketDir; everybody may connect as the superuser
// "postgres" without a password, replication included.
type Postgres struct {
	DataDir   string
	Host      string // always "127.0.0.1"
	Port      int
	SocketDir string
	// LogFile is the server log (pg_ctl -l). It lives outside DataDir.
	LogFile string
	// Env is the extra environment the postmaster gets (PGOptions.Env).
	Env []string

	conf map[string]string
}

// StartPostgres starts a PostgreSQL server for the test: initdb (with
// --data-checksums -U postgres -A trust --encoding UTF8 --locale=C --no-sync)
// unless opts.NoInitdb, configuration for loopback TCP on a free port with
// wal_level=replica, start, and a wait until it accepts connections. The
// server is stopped (immediate mode) at cleanup. If PostgreSQL 15 is missing
// the test is skipped, or failed under CI (see [Require]).
func StartPostgres(t testing.TB, opts PGOptions) *Postgres {
	t.Helper()
	requirePGBin(t)
	if asRoot() {
		requirePGUser(t)
	}
	base := Dir(t)
	p := &Postgres{
		Host:      "127.0.0.1",
		SocketDir: base,
		LogFile:   filepath.Join(base, "postgres.log"),
		Env:       opts.Env,
		conf:      opts.Conf,
	}
	if opts.NoInitdb {
		p.DataDir = prepareDataDir(t, opts.DataDir)
	} else {
		if opts.DataDir != "" {
			t.Fatalf("harness: PGOptions.DataDir is only for NoInitdb")
		}
		p.DataDir = filepath.Join(base, "data")
		p.initdb(t, opts.InitdbArgs)
	}
	t.Cleanup(func() { p.cleanup(t) })
	p.startOnFreePort(t)
	return p
}

// initdb creates p.DataDir.
func (p *Postgres) initdb(t testing.TB, extra []string) {
	t.Helper()
	args := []string{"-D", p.DataDir, "--data-checksums", "-U", "postgres", "-A", "trust",
		"--encoding", "UTF8", "--locale=C", "--no-instructions", "--no-sync"}
	ctx, cancel := context.WithTimeout(t.Context(), pgCtlTimeout)
	defer cancel()
	out, err := PGCommand(ctx, PGBin("initdb"), append(args, extra...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("harness: initdb %s: %v\n%s", p.DataDir, err, out)
	}
}

// startOnFreePort configures a free port and starts the server, moving to
// another port when some other process took the chosen one meanwhile.
func (p *Postgres) startOnFreePort(t testing.TB) {
	t.Helper()
	for try := 1; ; try++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("harness: %v", err)
		}
		p.Port = port
		err = p.start(t)
		if err == nil {
			p.WaitReady(t, readyTimeout)
			return
		}
		if !isPortClash(err) || try == startTries {
			t.Fatalf("harness: %v", err)
		}
		t.Logf("harness: port %d was taken, trying another: %v", port, err)
	}
}
