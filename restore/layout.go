package restore

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/pgkeep/pgkeep/internal/durable"
	"github.com/pgkeep/pgkeep/repo"
)

// pgControl is the file written last.
const pgControl = "global/pg_control"

// layout is where the files of a backup go, checked once.
type layout struct {
	root      string            // the data directory, absolute
	locations map[uint32]string // tablespace OID -> the directory pg_tblspc/<OID> links to
	remapped  bool              // some location differs from the backup's
	files     map[string]bool   // file paths of the manifest
	dirs      map[string]uint32 // directories to create (manifest Dirs and files' parents) -> mode
	links     map[string]uint32 // pg_tblspc/<OID> -> OID
}

// newLayout checks manifest m (safe relative paths, parts that cover each
// file, a pg_control) and resolves its tablespaces, remap first.
func newLayout(root string, m *repo.Manifest, remap map[uint32]string) (*layout, error) {
	l := &layout{root: root, locations: map[uint32]string{}, files: map[string]bool{},
		dirs: map[string]uint32{}, links: map[string]uint32{}}
	if err := l.resolveTablespaces(m, remap); err != nil {
		return nil, err
	}
	for _, d := range m.Dirs {
		p := path.Clean(d.Path)
		if p == "." {
			continue
		}
		if !safePath(p) {
			return nil, fmt.Errorf("manifest of %s: unsafe directory path %q", m.Label, d.Path)
		}
		if _, isLink := l.links[p]; !isLink {
			l.dirs[p] = d.Mode
		}
	}
	for _, f := range m.Files {
		if err := checkFile(f); err != nil {
			return nil, fmt.Errorf("manifest of %s: %w", m.Label, err)
		}
		l.files[f.Path] = true
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			if _, isLink := l.links[d]; isLink {
				break
			}
			if _, ok := l.dirs[d]; !ok {
				l.dirs[d] = 0o700
			}
		}
	}
	if !l.files[pgControl] {
		return nil, fmt.Errorf("manifest of %s has no %s: not a restorable data directory", m.Label, pgControl)
	}
	return l, nil
}

func (l *layout) resolveTablespaces(m *repo.Manifest, remap map[uint32]string) error {
	known := make([]string, 0, len(m.Tablespaces))
	for _, ts := range m.Tablespaces {
		loc := ts.Location
		if r, ok := remap[ts.OID]; ok {
			loc, l.remapped = r, l.remapped || r != ts.Location
		}
		if !filepath.IsAbs(loc) {
			return fmt.Errorf("tablespace %d: location %q is not an absolute path", ts.OID, loc)
		}
		l.locations[ts.OID] = filepath.Clean(loc)
		l.links["pg_tblspc/"+strconv.FormatUint(uint64(ts.OID), 10)] = ts.OID
		known = append(known, strconv.FormatUint(uint64(ts.OID), 10))
	}
	for oid := range remap {
		if _, ok := l.locations[oid]; !ok {
			list := strings.Join(known, ", ")
			if list == "" {
				list = "none"
			}
			return usagef("--tablespace-map %d: backup %s has no tablespace %d (its tablespaces: %s)", oid, m.Label, oid, list)
		}
	}
	return nil
}

// checkFile refuses a path that leaves the data directory and parts that
// do not cover the file exactly, in order.
func checkFile(f repo.File) error {
	if !safePath(f.Path) {
		return fmt.Errorf("unsafe file path %q", f.Path)
	}
	var at int64
	for _, p := range f.Parts {
		if p.Offset != at || p.Size < 0 {
			return fmt.Errorf("file %s: part at offset %d, expected %d", f.Path, p.Offset, at)
		}
		at += p.Size
	}
	if at != f.Size {
		return fmt.Errorf("file %s: parts hold %d bytes of %d", f.Path, at, f.Size)
	}
	return nil
}

// safePath: relative, slash-separated, without "..".
func safePath(p string) bool {
	return p != "" && !strings.Contains(p, `\`) && filepath.IsLocal(filepath.FromSlash(p)) && path.Clean(p) == p
}

// path is where relative path rel goes.
func (l *layout) path(rel string) string { return filepath.Join(l.root, filepath.FromSlash(rel)) }

// sortedDirs lists the directories to create, parents first.
func (l *layout) sortedDirs() []string {
	out := make([]string, 0, len(l.dirs))
	for d := range l.dirs {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// makeDirs creates the data directory's tree with the manifest's modes.
// A non-directory in the way is removed (delta restores over anything).
func (l *layout) makeDirs(own owner) error {
	for _, d := range l.sortedDirs() {
		p := l.path(d)
		if fi, err := os.Lstat(p); err == nil && !fi.IsDir() && fi.Mode()&os.ModeSymlink == 0 {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("create directory %s: %w", d, err)
			}
		}
		if err := os.MkdirAll(p, 0o700); err != nil {
			return fmt.Errorf("create directory %s: %w", d, err)
		}
		if err := os.Chmod(p, fileMode(l.dirs[d], 0o700)); err != nil {
			return fmt.Errorf("create directory %s: %w", d, err)
		}
		if err := own.apply(p); err != nil {
			return err
		}
	}
	return nil
}

// syncDirs fsyncs every directory of the restore, deepest first, then the
// tablespace locations and the data directory.
func (l *layout) syncDirs() error {
	dirs := l.sortedDirs()
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := durable.SyncDir(l.path(dirs[i])); err != nil {
			return err
		}
	}
	for _, loc := range l.locations {
		if err := durable.SyncDir(loc); err != nil {
			return err
		}
	}
	return durable.SyncDir(l.root)
}
