package walarchive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo/storage"
)

// push archives a finished segment or history file like archive-push (the
// same content already archived is fine, other content is ErrConflict),
// removes the segment's now stale .partial from the repository and only
// then the file from the spool.
func (u *uploader) push(ctx context.Context, w pg.WALName) error {
	began := time.Now()
	res, err := Push(ctx, u.r.o.Repo, u.r.o.Cluster, u.sp.path(w.Name), u.r.log)
	if err != nil {
		return err
	}
	if w.Kind == pg.KindSegment {
		if err := u.removeObject(ctx, w.Name+".partial"); err != nil {
			return err
		}
		if u.partialSeg == w.Name {
			u.partial, u.partialSeg, u.partialSize = nil, "", 0
		}
	}
	if err := u.sp.remove(w.Name); err != nil {
		return err
	}
	if w.Kind == pg.KindSegment {
		u.r.setArchived(w.Timeline, w.StartLSN(u.r.segSize())+pg.LSN(u.r.segSize()))
	}
	u.r.log.Debug("archived", "wal", w.Name, "bytes", res.Size, "already", res.Already, "took", time.Since(began))
	return nil
}

// pushEndedPartial archives the last, unfinished segment of an ended
// timeline as <segment>.partial (replacing the periodic upload), unless the
// full segment is archived after all, and removes it from the spool.
func (u *uploader) pushEndedPartial(ctx context.Context, w pg.WALName) error {
	data, err := os.ReadFile(u.sp.path(w.Name))
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	full, err := Exists(ctx, u.r.o.Repo, u.r.o.Cluster, strings.TrimSuffix(w.Name, ".partial"))
	if err != nil {
		return fmt.Errorf("upload %s: %w", w.Name, err)
	}
	if !full && len(data) > 0 {
		if _, _, err := u.r.o.Repo.PutObject(ctx, u.r.o.Cluster.WALKey(w.Name), data, false); err != nil {
			return fmt.Errorf("upload %s: %w", w.Name, err)
		}
		u.r.log.Info("archived the last segment of an ended timeline", "wal", w.Name, "bytes", len(data))
	}
	return u.sp.remove(w.Name)
}

// uploadPartial puts the current segment's WAL received so far into the
// repository as <segment>.partial, replacing the previous one, if it grew
// since. It takes what is written to the spool, not only what is fsynced
// there: the object is durable in the repository on its own, and the spool
// is fsynced only once per status interval, which would add that much to
// the archive's lag.
func (u *uploader) uploadPartial(ctx context.Context) error {
	st := u.r.Status()
	w, err := pg.ParseWALName(st.Segment)
	if err != nil {
		return nil // not streaming yet
	}
	n := int64(st.Received) - int64(w.StartLSN(u.r.segSize()))
	if n <= 0 || n > u.r.segSize() || st.Segment == u.partialSeg && n == u.partialSize {
		return nil
	}
	name := st.Segment + ".partial"
	f, err := os.Open(u.sp.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // finished meanwhile: the segment itself comes next
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	if u.partialSeg != w.Name {
		u.partial = u.fast.NewGrowingFile(u.r.o.Cluster.WALKey(name))
		u.partialSeg, u.partialSize = w.Name, 0
	}
	began := time.Now()
	if _, err := u.partial.Put(ctx, f, n); err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	u.partialSize = n
	u.r.log.Debug("uploaded partial", "wal", name, "bytes", n, "took", time.Since(began))
	if !u.backlog { // else the archive has a gap before this
		u.r.setArchived(w.Timeline, w.StartLSN(u.r.segSize())+pg.LSN(n))
	}
	return nil
}

// removeObject removes a WAL file from the repository; absent is fine.
func (u *uploader) removeObject(ctx context.Context, name string) error {
	err := u.r.o.Repo.Storage().Remove(ctx, u.r.o.Cluster.WALKey(name))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}
