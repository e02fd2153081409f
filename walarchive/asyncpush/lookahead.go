package asyncpush

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/walarchive"
)

// lookAhead starts jobs for WAL that PostgreSQL has finished
// (pg_wal/archive_status/<name>.ready) but not yet handed to archive-push,
// so that it is on its way before it is asked for. The oldest ready file is
// left alone: PostgreSQL is pushing it now. It keeps to a window of
// 2×process-max queued files and half the queue limit, so that it never
// makes archive-push fail with a full spool.
func (w *session) lookAhead(ctx context.Context, l listing, now time.Time) {
	if w.u.WALDir == "" || len(w.busy) >= w.processMax {
		return
	}
	entries, err := os.ReadDir(filepath.Join(w.u.WALDir, "archive_status"))
	if err != nil {
		return // not a pg_wal directory: no look-ahead
	}
	n, bytes := len(l.files), l.bytes
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
		if len(w.busy) >= w.processMax || n >= 2*w.processMax ||
			(w.u.QueueMax > 0 && bytes+w.cluster.WALSegmentSize > w.u.QueueMax/2) {
			return
		}
		if _, err := pg.ParseWALName(name); err != nil || l.has(name) || w.busy[name] ||
			now.Before(w.skipAhead[name]) || w.hasMarker(doneDir, name) || w.hasMarker(errorDir, name) {
			continue
		}
		w.start(ctx, name, true)
		n, bytes = n+1, bytes+w.cluster.WALSegmentSize
	}
}

func (w *session) hasMarker(dir, name string) bool {
	_, err := os.Stat(w.s.path(dir, name))
	return err == nil
}

// spoolAhead copies name from pg_wal into the spool, validated like any
// push. It reports false when the file is not to be uploaded by this job.
//
// PostgreSQL may recycle (rename and overwrite) a segment only after
// archive_command succeeded for it, and it renames .ready to .done first.
// So a copy finished while .ready still exists is intact; otherwise the
// copy is dropped: archive-push has spooled or found the file itself. The
// copy is published only if the name is free, never over a pushed copy.
func (w *session) spoolAhead(name string) (bool, error) {
	src, err := walarchive.OpenWAL(filepath.Join(w.u.WALDir, name), w.cluster)
	if err != nil {
		return false, err
	}
	defer src.Close()
	tmp, err := w.s.writeTemp(name, src)
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(filepath.Join(w.u.WALDir, "archive_status", name+".ready")); err != nil {
		os.Remove(tmp)
		return false, nil
	}
	if err := w.s.publish(tmp, name, true); err != nil && !errors.Is(err, os.ErrExist) {
		return false, err
	}
	w.u.Log.Debug("look-ahead spooled a ready file", "wal", name)
	return true, nil
}
