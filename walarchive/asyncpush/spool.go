package asyncpush

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/pgkeep/pgkeep/internal/detach"
	"github.com/pgkeep/pgkeep/pg"
)

// Names in the spool directory (see the package documentation).
const (
	doneDir      = "done"
	errorDir     = "error"
	aheadDir     = "ahead"
	clusterFile  = "cluster.json"
	lockFile     = "uploader.lock"
	logFile      = "uploader.log"
	uploaderName = "uploader" // error/uploader: the repository cannot be opened
)

// Dir is the spool directory of cluster under archive.spool-path.
func Dir(spoolPath, cluster string) string {
	return filepath.Join(spoolPath, "archive-push", cluster)
}

// spoolDir is an async spool directory with its done/ and error/ parts.
type spoolDir struct{ dir string }

// openSpoolDir creates the spool directories as needed (0700: they hold
// the cluster's WAL).
func openSpoolDir(dir string) (spoolDir, error) {
	for _, d := range []string{dir, filepath.Join(dir, doneDir), filepath.Join(dir, errorDir), filepath.Join(dir, aheadDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return spoolDir{}, fmt.Errorf("async spool: %w", err)
		}
	}
	return spoolDir{dir: dir}, nil
}

func (s spoolDir) path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}

// queued is a WAL file waiting in the spool.
type queued struct {
	name string
	size int64
}

// listing is one read of the spool directory.
type listing struct {
	files []queued // sorted by name: older WAL first
	bytes int64    // the sum of their sizes
	temps []string // files being copied, by their file names
}

// has reports whether name is queued.
func (l listing) has(name string) bool {
	i := sort.Search(len(l.files), func(i int) bool { return l.files[i].name >= name })
	return i < len(l.files) && l.files[i].name == name
}

// list reads the spool: WAL files waiting and temporary files.
func (s spoolDir) list() (listing, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return listing{}, fmt.Errorf("async spool: %w", err)
	}
	var l listing
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		if _, ok := detach.TempOwner(name); ok {
			l.temps = append(l.temps, name)
			continue
		}
		if _, err := pg.ParseWALName(name); err != nil {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // uploaded a moment ago
		}
		if err != nil {
			return listing{}, fmt.Errorf("async spool: %w", err)
		}
		l.files = append(l.files, queued{name: name, size: fi.Size()})
		l.bytes += fi.Size()
	}
	return l, nil // os.ReadDir sorts by name
}

// removeStaleTemps removes the temporary files of processes that are
// gone: a push or uploader killed while copying. They were never
// published, so nothing was accepted from them.
func (s spoolDir) removeStaleTemps(l listing) []string {
	var removed []string
	for _, t := range l.temps {
		if !detach.Stale(t) {
			continue
		}
		if err := os.Remove(s.path(t)); err == nil {
			removed = append(removed, t)
		}
	}
	return removed
}
