package restore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// checkDir refuses a directory that holds entries, unless delta or force
// allows restoring over them. A missing directory is fine.
func checkDir(dir, what string, delta, force bool) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%s %s: %w", what, dir, err)
	case len(entries) > 0 && !delta && !force:
		return kindf(ErrNotEmpty, "%s %s is not empty (%d entries, e.g. %s): restore into an empty directory, "+
			"or use --delta to rewrite only what differs, or --force to wipe it first", what, dir, len(entries), entries[0].Name())
	}
	return nil
}

// checkPostmaster refuses a data directory whose postmaster.pid names a
// live postmaster. A stale postmaster.pid is left for the restore to remove.
func checkPostmaster(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read postmaster.pid: %w", err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return nil // an unreadable lock file protects nothing; PostgreSQL ignores it too
	}
	if postmasterAlive(pid) {
		return kindf(ErrRunning, "PostgreSQL is running in %s (postmaster.pid: pid %d): stop it before restoring", dir, pid)
	}
	return nil
}

// postmasterAlive reports whether pid is a live process that may be a
// postmaster: it exists and, where /proc tells, runs a postgres program.
func postmasterAlive(pid int) bool {
	if pid == os.Getpid() || pid == os.Getppid() {
		return false
	}
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			return false // a zombie holds no data directory
		}
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return true // no /proc: trust the pid
	}
	return bytes.Contains(cmdline, []byte("postgres")) || bytes.Contains(cmdline, []byte("postmaster"))
}

// makeDataDir creates dir (and its parents) and gives it mode 0700, which
// PostgreSQL requires.
func makeDataDir(dir string, own owner) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return own.apply(dir)
}

// wipe removes everything inside dir, but not dir itself. Symbolic links
// are removed, never followed.
func wipe(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("wipe %s: %w", dir, err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("wipe %s: %w", dir, err)
		}
	}
	return nil
}
