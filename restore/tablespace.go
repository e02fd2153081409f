package restore

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ParseTablespaceMap reads --tablespace-map OID=DIR entries; DIR is made
// absolute. Errors are *UsageError.
func ParseTablespaceMap(entries []string) (map[uint32]string, error) {
	out := map[uint32]string{}
	for _, e := range entries {
		k, v, ok := strings.Cut(e, "=")
		oid, err := strconv.ParseUint(strings.TrimSpace(k), 10, 32)
		if !ok || err != nil || oid == 0 || strings.TrimSpace(v) == "" {
			return nil, usagef("--tablespace-map %q: want OID=DIR, e.g. 16385=/srv/pg/ts1", e)
		}
		if _, dup := out[uint32(oid)]; dup {
			return nil, usagef("--tablespace-map: tablespace %d mapped twice", oid)
		}
		dir, err := filepath.Abs(strings.TrimSpace(v))
		if err != nil {
			return nil, usagef("--tablespace-map %q: %v", e, err)
		}
		out[uint32(oid)] = dir
	}
	return out, nil
}

// checkTablespaces refuses non-empty tablespace locations unless delta or
// force, and locations inside the data directory.
func (l *layout) checkTablespaces(delta, force bool) error {
	for _, oid := range l.oids() {
		loc := l.locations[oid]
		if loc == l.root || strings.HasPrefix(loc, l.root+string(filepath.Separator)) {
			return usagef("tablespace %d: location %s is inside the data directory %s", oid, loc, l.root)
		}
		if err := checkDir(loc, fmt.Sprintf("tablespace %d directory", oid), delta, force); err != nil {
			return err
		}
	}
	return nil
}

// wipeTablespaces empties every tablespace location (for --force).
func (l *layout) wipeTablespaces() error {
	for _, oid := range l.oids() {
		if err := wipe(l.locations[oid]); err != nil {
			return err
		}
	}
	return nil
}

// makeLinks creates each tablespace location (mode 0700, as CREATE
// TABLESPACE leaves it) and pg_tblspc/<OID> linking to it, replacing a
// link to elsewhere or anything else in the way.
func (l *layout) makeLinks(own owner) error {
	if len(l.links) == 0 {
		return nil
	}
	if err := os.MkdirAll(l.path("pg_tblspc"), 0o700); err != nil {
		return fmt.Errorf("create pg_tblspc: %w", err)
	}
	for link, oid := range l.links {
		loc := l.locations[oid]
		if err := os.MkdirAll(loc, 0o700); err != nil {
			return fmt.Errorf("tablespace %d: %w", oid, err)
		}
		if err := os.Chmod(loc, 0o700); err != nil {
			return fmt.Errorf("tablespace %d: %w", oid, err)
		}
		if err := own.apply(loc); err != nil {
			return err
		}
		p := l.path(link)
		if target, err := os.Readlink(p); err == nil && target == loc {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("tablespace %d: %w", oid, err)
		}
		if err := os.Symlink(loc, p); err != nil {
			return fmt.Errorf("tablespace %d: %w", oid, err)
		}
		if err := own.apply(p); err != nil {
			return err
		}
	}
	return nil
}

// tablespaceMap renders the tablespace_map file for the final locations,
// escaped as PostgreSQL writes it. PostgreSQL recreates the links from
// this file when it starts from a backup, so a remapped restore must
// rewrite it.
func (l *layout) tablespaceMap() []byte {
	var b strings.Builder
	esc := strings.NewReplacer(`\`, `\\`, "\n", "\\\n", "\r", "\\\r")
	for _, oid := range l.oids() {
		fmt.Fprintf(&b, "%d %s\n", oid, esc.Replace(l.locations[oid]))
	}
	return []byte(b.String())
}

func (l *layout) oids() []uint32 {
	out := make([]uint32, 0, len(l.locations))
	for oid := range l.locations {
		out = append(out, oid)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
