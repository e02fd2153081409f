package asyncpush

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/walarchive"
)

// lookAhead starts jobs for WAL that PostgreSQL has finished
// (pg_wal/archive_status/<name>.ready) but not yet handed to archive-push,
// so that it is archived before it is asked for. The oldest ready file is
// left alone: PostgreSQL is pushing it now. It runs only while the spool
// holds fewer than 2×process-max files: those came first.
func (w *session) lookAhead(ctx context.Context, l listing, now time.Time) {
	if w.u.WALDir == "" || len(w.busy) >= w.processMax || len(l.files) >= 2*w.processMax {
		return
	}
	entries, err := os.ReadDir(filepath.Join(w.u.WALDir, "archive_status"))
	if err != nil {
		return // not a pg_wal directory: no look-ahead
	}
	oldest := true
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".ready")
		if !ok {
			continue
		}
		if oldest {
			oldest = false
			continue
		}
		if len(w.busy) >= w.processMax {
			return
		}
		if _, err := pg.ParseWALName(name); err != nil || l.has(name) || w.busy[name] ||
			now.Before(w.skipAhead[name]) || w.hasMarker(doneDir, name) || w.hasMarker(errorDir, name) {
			continue
		}
		w.start(ctx, name, true)
	}
}

func (w *session) hasMarker(dir, name string) bool {
	_, err := os.Stat(w.s.path(dir, name))
	return err == nil
}

// pushAhead archives name straight from pg_wal, while ahead/<name> tells
// its push to wait for the outcome.
//
// PostgreSQL may recycle (rename and overwrite) a segment only after
// archive_command succeeded for it, and it renames .ready to .done first.
// So bytes read while .ready still exists are intact: the push checks it
// after reading the last byte and before the object is published, and
// otherwise changes nothing (archive-push has archived or spooled the file
// itself meanwhile).
func (w *session) pushAhead(ctx context.Context, name string) error {
	if err := w.s.writeMarker(aheadDir, name, aheadMarker{PID: os.Getpid()}); err != nil {
		return err
	}
	defer func() {
		if err := w.s.removeMarker(aheadDir, name); err != nil {
			w.u.Log.Warn("cannot remove the look-ahead marker", "wal", name, "err", err)
		}
	}()
	f, err := walarchive.OpenWAL(filepath.Join(w.u.WALDir, name), w.cluster)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	ready := filepath.Join(w.u.WALDir, "archive_status", name+".ready")
	stillReady := func() error {
		if _, err := os.Stat(ready); err != nil {
			return fmt.Errorf("%s: %w while it was read: archive-push has taken it", name, errNoLongerReady)
		}
		return nil
	}
	_, err = w.push(ctx, name, f, stillReady, fileIDOf(fi))
	return err
}

// errNoLongerReady: a look-ahead's file stopped being ready for archiving.
var errNoLongerReady = errors.New("no longer marked ready")
