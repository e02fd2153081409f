// Package detach is what the archive hooks' background processes share:
// the hook (archive_command, restore_command) starts a detached worker
// unless one holds the spool's lock, and files being written carry the
// writer's pid so that leftovers of a dead process can be told apart.
package detach

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// maxLogSize is the size at which a worker's log is rotated (to <log>.1)
// when the next worker starts.
const maxLogSize = 8 << 20

// TryLock takes the exclusive lock on the file at path without waiting:
// ok is false when another process holds it. Closing the file releases
// it; so does the kernel when the holder dies, even by kill -9.
func TryLock(path string) (f *os.File, ok bool, err error) {
	f, err = os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, true, nil
}

// WritePID records the holder's pid in the lock file, for operators.
func WritePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// LockStillOurs reports whether path is still the file that f locks. When
// the spool is deleted and made again under a running worker, a new lock
// file would let a second worker start; the first must then stop.
func LockStillOurs(f *os.File, path string) bool {
	held, err := f.Stat()
	if err != nil {
		return false
	}
	cur, err := os.Stat(path)
	return err == nil && os.SameFile(held, cur)
}

// Start starts argv (program first) as a detached worker unless a process
// holds the lock file lockPath, and reports whether it started one. The
// worker gets its own session, so that PostgreSQL neither waits for it nor
// signals it with the hook, and appends its output to logPath. Two racing
// starts are harmless as long as the worker takes the lock itself: the
// second finds it taken and exits.
func Start(lockPath, logPath string, argv []string) (bool, error) {
	lock, free, err := TryLock(lockPath)
	if err != nil || !free {
		return false, err
	}
	lock.Close()
	if fi, err := os.Stat(logPath); err == nil && fi.Size() > maxLogSize {
		os.Rename(logPath, logPath+".1")
	}
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return false, fmt.Errorf("start %s: %w", argv[0], err)
	}
	defer log.Close()
	cmd := exec.Command(argv[0], argv[1:]...) // in our directory: relative paths in argv hold
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("start %s: %w", argv[0], err)
	}
	return true, cmd.Process.Release()
}

// tempSuffix ends the names of files being written.
const tempSuffix = ".tmp"

// TempName is the file process pid writes name into before publishing it.
func TempName(name string, pid int) string {
	return name + "." + strconv.Itoa(pid) + tempSuffix
}

// TempOwner returns the pid in a temporary file's name; ok is false for
// any other name.
func TempOwner(file string) (pid int, ok bool) {
	rest, ok := strings.CutSuffix(file, tempSuffix)
	if !ok {
		return 0, false
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return 0, false
	}
	pid, err := strconv.Atoi(rest[i+1:])
	return pid, err == nil && pid > 0
}

// Stale reports whether file is a temporary file of a process that is
// gone (not this one): never published, safe to remove.
func Stale(file string) bool {
	pid, ok := TempOwner(file)
	return ok && pid != os.Getpid() && !Alive(pid)
}

// Alive reports whether process pid exists (EPERM: it does, as another
// user).
func Alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
