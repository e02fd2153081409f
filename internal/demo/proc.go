package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// runAs says which OS user the demo's processes run as: PostgreSQL refuses
// to run as root, so when the demo runs as root every process it starts runs
// as the postgres user.
type runAs struct {
	cred *syscall.Credential // nil: the current user
}

func currentRunAs() (runAs, error) {
	if os.Geteuid() != 0 {
		return runAs{}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return runAs{}, fmt.Errorf("running as root, PostgreSQL needs the postgres OS user: %w (apt-get install postgresql-15 creates it)", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return runAs{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}, nil
}

// chown gives path to the user the processes run as.
func (r runAs) chown(path string) error {
	if r.cred == nil {
		return nil
	}
	return os.Chown(path, int(r.cred.Uid), int(r.cred.Gid))
}

// command is a command run as that user in dir, with its output appended to
// the file logPath (or discarded when "").
func (r runAs) command(ctx context.Context, dir, logPath, name string, args ...string) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "PGTZ=UTC")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred, Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("log file: %w", err)
		}
		cmd.Stdout, cmd.Stderr = f, f
	}
	return cmd, nil
}

// output runs a command to its end and returns its combined output.
func (r runAs) output(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd, err := r.command(ctx, dir, "", name, args...)
	if err != nil {
		return "", err
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %v: %w\n%s", filepath.Base(name), args, err, out)
	}
	return string(out), nil
}

// daemon is a long-running process of the demo.
type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan error
}

func (r runAs) start(ctx context.Context, dir, logPath, name string, args ...string) (*daemon, error) {
	cmd, err := r.command(ctx, dir, logPath, name, args...)
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(name), err)
	}
	d := &daemon{name: fmt.Sprintf("%s %s (log %s)", filepath.Base(name), args[len(args)-1], logPath), cmd: cmd, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait() }()
	return d, nil
}

// stop asks the process to end (SIGTERM) and waits for it.
func (d *daemon) stop(timeout time.Duration) {
	if d == nil || d.cmd.Process == nil {
		return
	}
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(timeout):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
}

// exited returns an error when the process has ended.
func (d *daemon) exited() error {
	select {
	case err := <-d.done:
		d.done <- err // keep it for stop
		return fmt.Errorf("%s ended: %v", d.name, err)
	default:
		return nil
	}
}

// kill ends the process at once (SIGKILL), as a crash would.
func (d *daemon) kill() {
	_ = d.cmd.Process.Kill()
	<-d.done
}

// freePort returns a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freePorts returns n distinct free ports.
func freePorts(n int) ([]int, error) {
	seen := map[int]bool{}
	var ports []int
	for len(ports) < n {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// waitFor polls cond until it holds, fails, or the timeout passes; what
// says what was awaited, for the error.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if ok, err := cond(ctx); ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("gave up after %s waiting for %s", timeout, what)
			}
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
