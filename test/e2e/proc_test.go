package e2e

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// proc is a long-running pgkeep process of a test (a server, an ha agent),
// run as the PostgreSQL OS user with its output appended to log.
type proc struct {
	log    string
	cmd    *exec.Cmd
	exited chan struct{} // closed when it ended; err is then its exit
	err    error
}

// start runs pgkeep with args, env added to the environment; the end of
// ctx kills it.
func (p *proc) start(t *testing.T, ctx context.Context, env []string, args ...string) {
	t.Helper()
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := harness.PGCommand(ctx, pgkeepBin, args...)
	cmd.Env = append(cmd.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	p.cmd, p.exited = cmd, exited
	go func() {
		p.err = cmd.Wait()
		close(exited)
	}()
}

// running reports whether the process runs.
func (p *proc) running() bool {
	if p.exited == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (p *proc) kill() {
	if p.running() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
}

// terminate sends SIGTERM and waits; after timeout it kills the process
// and returns false.
func (p *proc) terminate(timeout time.Duration) bool {
	if !p.running() {
		return true
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return true
	case <-time.After(timeout):
		p.kill()
		return false
	}
}
