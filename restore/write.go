package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/pgkeep/pgkeep/repo"
)

// writer writes a backup's files into a layout.
type writer struct {
	r       *repo.Repo
	cluster string
	l       *layout
	delta   bool
	own     owner
	log     *slog.Logger
	skip    map[string]bool // files of the backup written by other steps
	keep    map[string]bool // files not in the backup that delta must not remove

	mu    sync.Mutex
	stats Stats
}

// Stats count what a restore wrote.
type Stats struct {
	Files          int   `json:"files"`
	Bytes          int64 `json:"bytes"`
	Rewritten      int   `json:"rewritten-files"` // files created or changed
	RewrittenBytes int64 `json:"rewritten-bytes"` // bytes fetched from the repository and written
	Kept           int   `json:"kept-files"`      // delta: files already right
	KeptBytes      int64 `json:"kept-bytes"`
	Removed        int   `json:"removed"` // delta: files and directories not in the backup
}

func (w *writer) count(f repo.File, written int64, changed bool) {
	if changed && w.delta {
		w.log.Debug("delta: rewrote", "file", f.Path, "bytes", written)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stats.Files++
	w.stats.Bytes += f.Size
	if changed {
		w.stats.Rewritten++
		w.stats.RewrittenBytes += written
	} else {
		w.stats.Kept++
		w.stats.KeptBytes += f.Size
	}
}

// writeFiles writes every file but those in w.skip with workers in
// parallel, largest first. The first error (a checksum mismatch, a full disk) stops
// the others.
func (w *writer) writeFiles(ctx context.Context, files []repo.File, workers int) error {
	todo := make([]repo.File, 0, len(files))
	for _, f := range files {
		if !w.skip[f.Path] {
			todo = append(todo, f)
		}
	}
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].Size > todo[j].Size })
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(workers, 1))
	for _, f := range todo {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			written, changed, err := w.writeFile(gctx, f)
			if err != nil {
				return fileError(f.Path, err)
			}
			w.count(f, written, changed)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// writeFile makes one file match the manifest and returns the bytes it
// fetched and whether it changed the file. In delta mode an existing file
// of the right size keeps every part whose digest matches; anything else is
// written whole.
func (w *writer) writeFile(ctx context.Context, f repo.File) (written int64, changed bool, err error) {
	p := w.l.path(f.Path)
	mode := fileMode(f.Mode, 0o600)
	fd, reuse, err := w.open(p, f.Size, mode)
	if err != nil {
		return 0, false, err
	}
	changed = !reuse
	written, err = w.fill(ctx, fd, f, reuse)
	changed = changed || written > 0
	if err == nil && !reuse {
		err = fd.Truncate(f.Size) // sets the size of a file of empty parts too
	}
	if err == nil {
		err = fd.Chmod(mode)
	}
	if err == nil && changed {
		err = fd.Sync()
	}
	if cerr := fd.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return written, changed, err
	}
	if !f.ModTime.IsZero() {
		if err := os.Chtimes(p, f.ModTime, f.ModTime); err != nil {
			return written, changed, err
		}
	}
	return written, changed, w.own.apply(p)
}

// open opens p for writing. reuse says that the existing file has the
// right size and its parts are to be compared (delta only).
func (w *writer) open(p string, size int64, mode os.FileMode) (fd *os.File, reuse bool, err error) {
	if w.delta {
		fi, err := os.Lstat(p)
		switch {
		case err == nil && fi.Mode().IsRegular() && fi.Size() == size:
			fd, err := os.OpenFile(p, os.O_RDWR, 0)
			return fd, err == nil, err
		case err == nil:
			if err := os.RemoveAll(p); err != nil {
				return nil, false, err
			}
		case !errors.Is(err, os.ErrNotExist):
			return nil, false, err
		}
	}
	fd, err = os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	return fd, false, err
}

// fill writes the parts of f into fd; with reuse only those whose digest
// differs from the bytes already there.
func (w *writer) fill(ctx context.Context, fd *os.File, f repo.File, reuse bool) (int64, error) {
	var h hash.Hash
	if reuse {
		h = w.r.Codec().NewHash()
	}
	var written int64
	for _, part := range f.Parts {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		if reuse {
			same, err := samePart(fd, part, h)
			if err != nil {
				return written, err
			}
			if same {
				continue
			}
		}
		if err := w.r.ReadPart(ctx, w.cluster, part, io.NewOffsetWriter(fd, part.Offset)); err != nil {
			return written, err
		}
		written += part.Size
	}
	return written, nil
}

// samePart reports whether the bytes of fd at part's range have its digest.
func samePart(fd *os.File, part repo.Part, h hash.Hash) (bool, error) {
	h.Reset()
	if _, err := io.Copy(h, io.NewSectionReader(fd, part.Offset, part.Size)); err != nil {
		return false, fmt.Errorf("compare part at %d: %w", part.Offset, err)
	}
	return bytes.Equal(h.Sum(nil), part.Digest[:]), nil
}
