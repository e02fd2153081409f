package restore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/pgkeep/pgkeep/repo"
)

// configTargets maps each configuration file of the backup (captured from
// outside the data directory, Path absolute on the source host) to where it
// is restored: its original path, or dir/<base name> when dir is given.
func configTargets(files []repo.File, dir string) ([]string, error) {
	out := make([]string, len(files))
	seen := map[string]string{}
	for i, f := range files {
		dest := filepath.Clean(filepath.FromSlash(f.Path))
		if !filepath.IsAbs(dest) {
			return nil, fmt.Errorf("configuration file %q: not an absolute path", f.Path)
		}
		if dir != "" {
			dest = filepath.Join(dir, path.Base(f.Path))
		}
		if prev, dup := seen[dest]; dup {
			return nil, usagef("configuration files %s and %s would both be restored to %s", prev, f.Path, dest)
		}
		seen[dest] = f.Path
		out[i] = dest
	}
	return out, nil
}

// restoreConfigFiles writes the backup's configuration files (verified,
// atomically) and returns where they went.
func (w *writer) restoreConfigFiles(ctx context.Context, files []repo.File, dests []string) ([]string, error) {
	for i, f := range files {
		if err := checkFile(repo.File{Path: "config", Size: f.Size, Parts: f.Parts}); err != nil {
			return nil, fmt.Errorf("configuration file %s: %w", f.Path, err)
		}
		var buf bytes.Buffer
		for _, part := range f.Parts {
			if err := w.r.ReadPart(ctx, w.cluster, part, &buf); err != nil {
				return nil, fileError("configuration file "+f.Path, err)
			}
		}
		dest := dests[i]
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return nil, fmt.Errorf("restore configuration file %s: %w", f.Path, err)
		}
		if err := writeAtomic(dest, buf.Bytes(), fileMode(f.Mode, 0o644), w.own); err != nil {
			return nil, fmt.Errorf("restore configuration file %s: %w", f.Path, err)
		}
		if !f.ModTime.IsZero() {
			if err := os.Chtimes(dest, f.ModTime, f.ModTime); err != nil {
				return nil, err
			}
		}
	}
	return dests, nil
}
