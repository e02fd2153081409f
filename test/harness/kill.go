package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// zombieGrace is how long Kill waits for the init process to reap the killed
// postmaster before it removes the postmaster.pid that names the zombie.
const zombieGrace = 250 * time.Millisecond

// Kill crashes the server like a power cut: it freezes the postmaster
// (SIGSTOP, so it forks nothing new), SIGKILLs it and every one of its
// children together with their process groups (backends, auxiliary
// processes, a running archive_command), and waits until all are gone, so
// that Start can follow at once.
//
// PostgreSQL refuses to start while the pid in postmaster.pid exists, even as
// a zombie. If the init process of a container does not promptly reap the
// killed postmaster (some do not, or only every second or so), Kill removes
// the stale postmaster.pid and socket lock file. PostgreSQL still finds and
// removes the orphaned shared memory segment on start, as its key derives
// from the data directory.
func (p *Postgres) Kill(t testing.TB) {
	t.Helper()
	pid, err := p.postmasterPID()
	if err != nil || !isPostmaster(pid, p.DataDir) {
		t.Fatalf("harness: Kill: server in %s is not running (%v)", p.DataDir, err)
	}
	groups, err := freezeAndKill(pid)
	if err != nil {
		t.Fatalf("harness: Kill: %v", err)
	}
	Wait(t, readyTimeout, fmt.Sprintf("processes of killed postmaster %d to exit", pid), func() (bool, error) {
		left, err := anyGroupAlive(groups)
		if left != 0 {
			err = fmt.Errorf("process %d still alive", left)
		}
		return left == 0 && err == nil, err
	})
	deadline := time.Now().Add(zombieGrace)
	for !reaped(pid) && time.Now().Before(deadline) {
		time.Sleep(pollInterval)
	}
	if !reaped(pid) {
		if err := p.removeLockFiles(); err != nil {
			t.Fatalf("harness: Kill: %v", err)
		}
	}
}

// removeLockFiles removes the lock files a dead postmaster left: the data
// directory's postmaster.pid and the socket's lock.
func (p *Postgres) removeLockFiles() error {
	for _, f := range []string{
		filepath.Join(p.DataDir, "postmaster.pid"),
		filepath.Join(p.SocketDir, fmt.Sprintf(".s.PGSQL.%d.lock", p.Port)),
	} {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove stale lock file: %w", err)
		}
	}
	return nil
}

// removeZombieLock removes the lock files when the postmaster they name is a
// zombie (it died without the harness's Kill, e.g. killed by the code under
// test, and nobody reaped it), since PostgreSQL would not start then.
func (p *Postgres) removeZombieLock() error {
	pid, err := p.postmasterPID()
	if err != nil || reaped(pid) || alive(pid) {
		return nil
	}
	return p.removeLockFiles()
}

// freezeAndKill SIGKILLs the postmaster pid and everything it started, and
// returns the process groups to watch. PostgreSQL makes every child of the
// postmaster the leader of its own process group, so each is killed as a
// group (catching e.g. archive_command's shell), and also by pid, in case it
// was forked a moment ago and has not yet left the postmaster's group.
func freezeAndKill(pid int) ([]int, error) {
	if err := signal(pid, syscall.SIGSTOP); err != nil {
		return nil, fmt.Errorf("SIGSTOP postmaster %d: %w", pid, err)
	}
	kids, err := childrenOf(pid)
	if err != nil {
		_ = signal(pid, syscall.SIGCONT)
		return nil, err
	}
	groups := append([]int{pid}, kids...)
	var errs []error
	errs = append(errs, signal(pid, syscall.SIGKILL))
	for _, g := range groups {
		errs = append(errs, signal(-g, syscall.SIGKILL))
	}
	for _, k := range kids {
		errs = append(errs, signal(k, syscall.SIGKILL))
	}
	return groups, errors.Join(errs...)
}

// signal sends sig to pid (a group when negative); a process or group that
// is already gone is not an error.
func signal(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("send %v to %d: %w", sig, pid, err)
	}
	return nil
}
