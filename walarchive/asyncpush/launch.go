package asyncpush

import (
	"fmt"

	"github.com/pgkeep/pgkeep/internal/detach"
)

// EnsureUploader starts a detached uploader for the spool dir unless one
// is running; argv is its command line (program first). The uploader
// writes its output to uploader.log in the spool. It reports whether it
// started one. Two racing starts are harmless: the second uploader finds
// the lock taken and exits.
func EnsureUploader(dir string, argv []string) (bool, error) {
	s, err := openSpoolDir(dir)
	if err != nil {
		return false, err
	}
	started, err := detach.Start(s.path(lockFile), s.path(logFile), argv)
	if err != nil {
		return false, fmt.Errorf("async uploader: %w", err)
	}
	return started, nil
}
