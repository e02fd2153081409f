package asyncpush

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/pgkeep/pgkeep/internal/detach"
	"github.com/pgkeep/pgkeep/walarchive"
)

// Foreground is what PostgreSQL's archiver runs in async mode: it accepts
// one WAL file into the spool.
type Foreground struct {
	Dir       string           // the cluster's spool directory (see Dir)
	QueueMax  int64            // bytes the spool may hold before pushes fail; 0: no limit
	FailAfter time.Duration    // report an uploader that has been failing this long
	Cluster   ClusterFunc      // reads the registration when the spool has none cached
	Now       func() time.Time // the clock; nil: time.Now
	AheadWait time.Duration    // longest wait for the look-ahead's upload of the file; 0: defaultAheadWait
}

// How a push waits for the look-ahead: the upload of one segment takes
// well under a second; after the wait (a slow repository) the push spools
// its own copy, which costs a copy, not WAL.
const (
	defaultAheadWait = 10 * time.Second
	aheadPoll        = 5 * time.Millisecond
)

// Outcome says what Push did with the file.
type Outcome int

// The outcomes of Foreground.Push.
const (
	Spooled         Outcome = iota + 1 // now durable in the spool
	AlreadyQueued                      // the same content was waiting in the spool
	AlreadyArchived                    // the uploader archived the same content before
)

func (o Outcome) String() string {
	return [...]string{"", "spooled", "already queued", "already archived"}[o]
}

// Push validates the WAL file at path like the synchronous push and makes
// it durable in the spool (temporary name, fsync, rename, fsync of the
// directory). It fails, accepting nothing, when the uploader has recorded
// an error for this file, has been failing for FailAfter or hit a conflict,
// or the spool holds QueueMax bytes or more. The caller starts the
// uploader (EnsureUploader) whatever the outcome.
func (f *Foreground) Push(ctx context.Context, path string) (Outcome, error) {
	name := filepath.Base(path)
	s, err := openSpoolDir(f.Dir)
	if err != nil {
		return 0, fmt.Errorf("push %s: %w", name, err)
	}
	src, err := openValidated(ctx, s, path, f.Cluster)
	if err != nil {
		return 0, fmt.Errorf("push %s: %w", name, err)
	}
	defer src.Close()
	if err := f.checkFailures(s, name); err != nil {
		return 0, fmt.Errorf("push %s: %w", name, err)
	}
	f.awaitAhead(s, name)
	if done, err := archivedBefore(s, name, src); done || err != nil {
		return AlreadyArchived, err
	}
	if queued, err := queuedBefore(s, name, src); queued || err != nil {
		return AlreadyQueued, err
	}
	l, err := s.list()
	if err != nil {
		return 0, fmt.Errorf("push %s: %w", name, err)
	}
	if f.QueueMax > 0 && l.bytes >= f.QueueMax {
		return 0, fmt.Errorf("push %s: %w", name, spoolFull(name, l.bytes, f.QueueMax, s.dir))
	}
	tmp, err := s.writeTemp(name, src)
	if err != nil {
		return 0, fmt.Errorf("push %s: %w", name, err)
	}
	if err := s.publish(tmp, name); err != nil {
		return 0, fmt.Errorf("push %s: %w", name, err)
	}
	return Spooled, nil
}

// checkFailures returns the uploader's recorded failure of this file, else
// the first failure that is permanent or older than FailAfter.
func (f *Foreground) checkFailures(s spoolDir, name string) error {
	fails, err := s.failures()
	if err != nil {
		return err
	}
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	var long *failure
	for i, fl := range fails {
		switch {
		case fl.File == name:
			return &UploadError{failure: fl, logPath: s.path(logFile)}
		case long == nil && (fl.Permanent || now().Sub(fl.Since) >= f.FailAfter):
			long = &fails[i]
		}
	}
	if long != nil {
		return &UploadError{failure: *long, logPath: s.path(logFile)}
	}
	return nil
}

// awaitAhead waits while the uploader's look-ahead archives name from
// pg_wal (ahead/<name>), for at most aheadWait: its outcome is then in
// done/ or error/. A marker of a process that is gone is ignored.
func (f *Foreground) awaitAhead(s spoolDir, name string) {
	wait := f.AheadWait
	if wait == 0 {
		wait = defaultAheadWait
	}
	deadline := time.Now().Add(wait)
	for {
		var m aheadMarker
		ok, err := s.readMarker(aheadDir, name, &m)
		if !ok || err != nil || !detach.Alive(m.PID) || time.Now().After(deadline) {
			return
		}
		time.Sleep(aheadPoll)
	}
}

// archivedBefore reports whether the uploader archived exactly src's
// content under name (done/<name>): the very file, unchanged since, or
// the same bytes.
func archivedBefore(s spoolDir, name string, src *os.File) (bool, error) {
	var m doneMarker
	ok, err := s.readMarker(doneDir, name, &m)
	if !ok || err != nil {
		return false, err
	}
	if m.File != nil {
		fi, err := src.Stat()
		if err != nil {
			return false, fmt.Errorf("push %s: %w", name, err)
		}
		if id := fileIDOf(fi); id != nil && *id == *m.File {
			return true, nil
		}
	}
	size, sum, err := hashFile(src)
	if err != nil {
		return false, fmt.Errorf("push %s: %w", name, err)
	}
	return size == m.Size && sum == m.SHA256, nil
}

// queuedBefore reports whether the spool already holds src's content under
// name. Other content under the name is refused as a conflict: the queued
// copy goes to the repository first.
func queuedBefore(s spoolDir, name string, src *os.File) (bool, error) {
	q, err := os.Open(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("push %s: %w", name, err)
	}
	defer q.Close()
	same, err := sameContent(q, src)
	if err != nil {
		return false, fmt.Errorf("push %s: %w", name, err)
	}
	if !same {
		return false, fmt.Errorf("push %s: %w: other content is queued under this name in %s", name, walarchive.ErrConflict, s.dir)
	}
	return true, nil
}
