package posix

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pgkeep/pgkeep/repo/storage"
)

var _ storage.TempRemover = (*Posix)(nil)

// RemoveTemp deletes the temporary files of interrupted Puts under prefix
// (which must name a directory, e.g. "main/backup/") and the directories
// they leave empty.
func (p *Posix) RemoveTemp(ctx context.Context, prefix string) (int, error) {
	if err := storage.ValidatePrefix(prefix); err != nil {
		return 0, err
	}
	start := p.path(strings.TrimSuffix(prefix, "/"))
	var temps []string
	err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix) {
			temps = append(temps, path)
		}
		return ctx.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("look for temporary files under %s: %w", prefix, err)
	}
	for _, t := range temps {
		if err := os.Remove(t); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("remove temporary file: %w", err)
		}
		for dir := filepath.Dir(t); dir != p.root && os.Remove(dir) == nil; dir = filepath.Dir(dir) {
		}
	}
	return len(temps), nil
}
