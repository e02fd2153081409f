package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startError is a failed pg_ctl start, with what pg_ctl printed and what the
// server logged during the attempt.
type startError struct {
	err      error
	out, log string
}

func (e *startError) Error() string {
	return fmt.Sprintf("pg_ctl start: %v\n--- pg_ctl output:\n%s--- server log (tail):\n%s",
		e.err, e.out, tailLines(e.log, 40))
}

func (e *startError) Unwrap() error { return e.err }

// isPortClash reports whether a start failed because the port was taken.
func isPortClash(err error) bool {
	var se *startError
	return errors.As(err, &se) && strings.Contains(se.log, "Address already in use")
}

// pgCtl runs pg_ctl -D p.DataDir args... with the postmaster's environment.
func (p *Postgres) pgCtl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), pgCtlTimeout+10*time.Second)
	defer cancel()
	cmd := PGCommand(ctx, PGBin("pg_ctl"), append([]string{"-D", p.DataDir}, args...)...)
	cmd.Env = append(cmd.Environ(), p.Env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// start writes the configuration and runs pg_ctl start, which waits until
// the server accepts connections.
func (p *Postgres) start(t testing.TB) error {
	t.Helper()
	if err := p.writeConfig(); err != nil {
		return fmt.Errorf("configure %s: %w", p.DataDir, err)
	}
	if err := p.removeZombieLock(); err != nil {
		return err
	}
	offset := fileSize(p.LogFile)
	out, err := p.pgCtl("-l", p.LogFile, "-w", "-t", fmt.Sprint(int(pgCtlTimeout.Seconds())), "start")
	if err != nil {
		return &startError{err: err, out: out, log: readFrom(p.LogFile, offset)}
	}
	return nil
}

// Start starts the server again after Stop or Kill, on the same port and with
// the same settings, and waits until it accepts connections. After Kill this
// includes crash recovery.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	if p.running() {
		t.Fatalf("harness: Start: server in %s is already running", p.DataDir)
	}
	if err := p.start(t); err != nil {
		t.Fatalf("harness: %v", err)
	}
	p.WaitReady(t, readyTimeout)
}

// Stop shuts the server down cleanly (pg_ctl stop -m fast -w).
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	out, err := p.pgCtl("-m", "fast", "-w", "-t", fmt.Sprint(int(pgCtlTimeout.Seconds())), "stop")
	if err != nil {
		t.Fatalf("harness: pg_ctl stop: %v\n%s--- server log (tail):\n%s", err, out, p.LogTail(40))
	}
}

// Reload makes the server re-read its configuration files (pg_ctl reload) and
// returns once the postmaster has done so (pg_conf_load_time changed).
// Auxiliary processes such as the archiver pick the change up shortly after;
// wait for its effect where that matters.
func (p *Postgres) Reload(t testing.TB) {
	t.Helper()
	const loadTime = "SELECT pg_conf_load_time()::text"
	before := p.QueryString(t, loadTime)
	if out, err := p.pgCtl("reload"); err != nil {
		t.Fatalf("harness: pg_ctl reload: %v\n%s", err, out)
	}
	Wait(t, readyTimeout, "server to reload its configuration", func() (bool, error) {
		ctx, cancel := context.WithTimeout(t.Context(), sqlTimeout)
		defer cancel()
		now, err := p.TryQueryString(ctx, loadTime)
		return err == nil && now != before, err
	})
}

// WaitReady waits until a connection to the server succeeds and runs a query.
func (p *Postgres) WaitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	Wait(t, timeout, fmt.Sprintf("PostgreSQL on port %d to accept connections", p.Port), func() (bool, error) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := p.TryQueryString(ctx, "SELECT 1")
		return err == nil, err
	})
}

// cleanup stops the server at once if it runs; a stopped or killed server is
// left alone.
func (p *Postgres) cleanup(t testing.TB) {
	if !p.running() {
		return
	}
	out, err := p.pgCtl("-m", "immediate", "-w", "-t", fmt.Sprint(int(pgCtlTimeout.Seconds())), "stop")
	if err != nil && p.running() {
		t.Errorf("harness: cleanup: pg_ctl stop -m immediate: %v\n%s", err, out)
	}
}

// running reports whether the postmaster of p.DataDir is alive.
func (p *Postgres) running() bool {
	pid, err := p.postmasterPID()
	return err == nil && isPostmaster(pid, p.DataDir)
}

// postmasterPID reads the postmaster's pid from postmaster.pid.
func (p *Postgres) postmasterPID() (int, error) {
	b, err := os.ReadFile(filepath.Join(p.DataDir, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("read postmaster.pid: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	var pid int
	if _, err := fmt.Sscan(first, &pid); err != nil || pid <= 0 {
		return 0, fmt.Errorf("parse postmaster.pid line %q: %v", first, err)
	}
	return pid, nil
}
