package asyncpush

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// maxLogSize is the size at which the uploader's log is rotated (to
// uploader.log.1) when the next uploader starts.
const maxLogSize = 8 << 20

// EnsureUploader starts a detached uploader for the spool dir unless one
// is running; argv is its command line (program first). The uploader gets
// its own session, so PostgreSQL does not wait for it or signal it with
// archive_command, and writes its output to uploader.log in the spool. It
// reports whether it started one. Two racing starts are harmless: the
// second uploader finds the lock taken and exits.
func EnsureUploader(dir string, argv []string) (bool, error) {
	s, err := openSpoolDir(dir)
	if err != nil {
		return false, err
	}
	lock, free, err := tryLock(s.path(lockFile))
	if err != nil || !free {
		return false, err
	}
	lock.Close()
	logPath := s.path(logFile)
	if fi, err := os.Stat(logPath); err == nil && fi.Size() > maxLogSize {
		os.Rename(logPath, logPath+".1")
	}
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return false, fmt.Errorf("start async uploader: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(argv[0], argv[1:]...) // in our directory: relative paths in argv hold
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("start async uploader: %w", err)
	}
	return true, cmd.Process.Release()
}
