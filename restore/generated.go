package restore

import (
	"bytes"
	"context"
	"os"

	"github.com/pgkeep/pgkeep/repo"
)

// Files whose content the restore computes rather than copies:
// postgresql.auto.conf (the backup's plus the recovery settings), the
// signal file, and tablespace_map when tablespaces move.

// findFile returns the backup's file at path, or nil.
func findFile(m *repo.Manifest, path string) *repo.File {
	for i := range m.Files {
		if m.Files[i].Path == path {
			return &m.Files[i]
		}
	}
	return nil
}

// fetch reads a whole (small) file of the backup, verified.
func (w *writer) fetch(ctx context.Context, f repo.File) ([]byte, error) {
	var buf bytes.Buffer
	for _, part := range f.Parts {
		if err := w.r.ReadPart(ctx, w.cluster, part, &buf); err != nil {
			return nil, fileError(f.Path, err)
		}
	}
	return buf.Bytes(), nil
}

// writeGenerated gives rel the content data; f is the backup's file of
// that name, if any, for the counts. In delta mode an identical file is
// kept.
func (w *writer) writeGenerated(rel string, data []byte, f *repo.File, mode os.FileMode) error {
	p := w.l.path(rel)
	if w.delta {
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, data) {
			if f != nil {
				w.count(*f, 0, false)
			}
			return os.Chmod(p, mode)
		}
	}
	if err := writeAtomic(p, data, mode, w.own); err != nil {
		return err
	}
	if f != nil {
		w.count(*f, int64(len(data)), true)
	}
	return nil
}
