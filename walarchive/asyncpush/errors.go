package asyncpush

import (
	"errors"
	"fmt"
	"time"

	"github.com/pgkeep/pgkeep/walarchive"
)

// ErrSpoolFull: the spool holds archive.queue-max-mb or more, so the file
// was not accepted; PostgreSQL keeps it in pg_wal and retries.
var ErrSpoolFull = errors.New("async archive spool full")

// ErrUploaderFailing: the background uploader could not archive spooled
// WAL (see UploadError).
var ErrUploaderFailing = errors.New("async archive uploader failing")

// UploadError is a failure the uploader recorded in the spool, reported by
// the next archive-push. It matches ErrUploaderFailing, and
// walarchive.ErrConflict when the repository holds other content under the
// file's name.
type UploadError struct {
	failure
	logPath string
}

func (e *UploadError) Error() string {
	what := "archive " + e.File
	if e.File == uploaderName {
		what = "open the repository"
	}
	msg := fmt.Sprintf("%v: the uploader could not %s (%d attempts since %s): %s",
		ErrUploaderFailing, what, e.Attempts, e.Since.Format(time.RFC3339), e.Message)
	if e.Conflict {
		msg += "; the queued file stays in the spool: fix the repository, then remove " +
			"the spool's error/" + e.File + " to retry at once"
	}
	return msg + " (log: " + e.logPath + ")"
}

// Is makes errors.Is match ErrUploaderFailing and, for a conflict,
// walarchive.ErrConflict.
func (e *UploadError) Is(target error) bool {
	return target == ErrUploaderFailing || (e.Conflict && target == walarchive.ErrConflict)
}

// spoolFull is the error of a push refused by the queue limit.
func spoolFull(name string, queued, limit int64, dir string) error {
	return fmt.Errorf("%w: %d MB of WAL queued in %s, the limit (archive.queue-max-mb) is %d MB: "+
		"the repository is not keeping up or is unreachable (log: %s); %s was not accepted and PostgreSQL will retry it",
		ErrSpoolFull, queued>>20, dir, limit>>20, spoolDir{dir}.path(logFile), name)
}
