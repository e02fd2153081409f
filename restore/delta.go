package restore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/pgkeep/pgkeep/internal/durable"
	"github.com/pgkeep/pgkeep/repo"
)

// prune removes (delta mode) every file, directory and link of the data
// directory and the tablespace locations that the backup does not have,
// and anything of the wrong type where the backup has a file or directory.
// Tablespace links (made before) and links in place of the backup's
// directories (a pg_wal elsewhere) are followed.
func (w *writer) prune(ctx context.Context, dir, rel string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("delta: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, p := path.Join(rel, e.Name()), filepath.Join(dir, e.Name())
		if oid, ok := w.l.links[r]; ok {
			if err := w.prune(ctx, w.l.locations[oid], r); err != nil {
				return err
			}
			continue
		}
		_, wantDir := w.l.dirs[r]
		switch {
		case wantDir && (e.IsDir() || e.Type()&os.ModeSymlink != 0 && isDir(p)):
			if err := w.prune(ctx, p, r); err != nil {
				return err
			}
		case e.Type().IsRegular() && (w.l.files[r] || w.keep[r]):
		default:
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("delta: remove %s: %w", r, err)
			}
			w.stats.Removed++
			w.log.Debug("delta: removed", "path", r)
		}
	}
	return nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// stashControl (delta mode) removes an existing global/pg_control before
// anything else changes, so that an interrupted delta restore cannot
// start, and returns its bytes when they are the backup's (to be put back
// last, without fetching them).
func (w *writer) stashControl(f repo.File) ([]byte, error) {
	p := w.l.path(pgControl)
	fd, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("delta: %w", err)
	}
	fi, err := fd.Stat()
	same := err == nil && fi.Mode().IsRegular() && fi.Size() == f.Size
	for _, part := range f.Parts {
		if !same {
			break
		}
		same, err = samePart(fd, part, w.r.Codec(), make([]byte, 64<<10))
	}
	var data []byte
	if err == nil && same {
		data = make([]byte, f.Size)
		_, err = fd.ReadAt(data, 0)
	}
	fd.Close()
	if err != nil {
		return nil, fmt.Errorf("delta: read %s: %w", pgControl, err)
	}
	if err := os.RemoveAll(p); err != nil {
		return nil, fmt.Errorf("delta: %w", err)
	}
	return data, durable.SyncDir(filepath.Dir(p))
}

// writeControl writes global/pg_control, the last file of a restore: from
// kept (the verified bytes stashControl put aside) or from the repository.
func (w *writer) writeControl(ctx context.Context, f repo.File, kept []byte) error {
	data := kept
	if data == nil {
		var err error
		if data, err = w.fetch(ctx, f); err != nil {
			return err
		}
	}
	p := w.l.path(pgControl)
	if err := writeAtomic(p, data, fileMode(f.Mode, 0o600), w.own); err != nil {
		return err
	}
	if !f.ModTime.IsZero() {
		if err := os.Chtimes(p, f.ModTime, f.ModTime); err != nil {
			return err
		}
	}
	written := int64(len(data))
	if kept != nil {
		written = 0
	}
	w.count(f, written, kept == nil)
	return nil
}
