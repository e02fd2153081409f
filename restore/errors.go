package restore

import (
	"errors"
	"fmt"

	"github.com/pgkeep/pgkeep/repo"
)

// UsageError is a malformed or contradictory restore request (a bad time,
// two targets, an unknown action): the caller's mistake, not a failure.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// IsUsage reports whether err is a UsageError.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}

// Sentinel errors for outcomes a caller may branch on.
var (
	// ErrOutsideWindow: the target is outside every usable recovery window.
	ErrOutsideWindow = errors.New("target outside the recovery window")
	// ErrNotRestorable: the backup (or every backup) lacks WAL to become consistent.
	ErrNotRestorable = errors.New("backup not restorable")
	// ErrNotEmpty: the data directory or a tablespace directory holds files.
	ErrNotEmpty = errors.New("directory not empty")
	// ErrRunning: a live postmaster owns the data directory.
	ErrRunning = errors.New("PostgreSQL is running")
)

// kindError is a message that matches a sentinel with errors.Is without
// repeating the sentinel's text.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func kindf(kind error, format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), kind: kind}
}

// fileError names the file a write failed on, and says so plainly when
// the repository's bytes failed verification.
func fileError(path string, err error) error {
	if repo.IsCorrupt(err) {
		return fmt.Errorf("restore %s: checksum verification failed, the backup is damaged: %w", path, err)
	}
	return fmt.Errorf("restore %s: %w", path, err)
}
