package ha

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// dataDir is what the data directory holds.
type dataDir struct {
	// empty: no cluster yet (missing, empty, or an unfinished creation:
	// PG_VERSION without global/pg_control, which initdb, pg_basebackup
	// and restore write last).
	empty bool
	// sysid is the system identifier in pg_control, "" when empty.
	sysid string
}

// inspect reads what the data directory holds. A directory with files but
// neither PG_VERSION nor pg_control is an error: the agent never writes
// into what is not a data directory.
func (p *postgres) inspect() (dataDir, error) {
	entries, err := os.ReadDir(p.dataDir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return dataDir{empty: true}, nil
	case err != nil:
		return dataDir{}, fmt.Errorf("data directory %s: %w", p.dataDir, err)
	case len(entries) == 0:
		return dataDir{empty: true}, nil
	}
	ctl, err := os.ReadFile(filepath.Join(p.dataDir, "global", "pg_control"))
	if err == nil && len(ctl) >= 8 {
		return dataDir{sysid: strconv.FormatUint(binary.LittleEndian.Uint64(ctl), 10)}, nil
	}
	if _, verr := os.Stat(filepath.Join(p.dataDir, "PG_VERSION")); verr == nil {
		return dataDir{empty: true}, nil
	}
	return dataDir{}, fmt.Errorf("data directory %s is not empty (%s...) and holds no PostgreSQL cluster: refusing to write into it",
		p.dataDir, entries[0].Name())
}

// prepareDataDir readies the data directory for a new cluster or replica:
// it exists with mode 0700, owned like its parent (the agent may run as
// root beside a server run by the postgres user), and is empty.
func (p *postgres) prepareDataDir() error {
	if err := os.MkdirAll(p.dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := os.Chmod(p.dataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if err := chownLike(p.dataDir, filepath.Dir(p.dataDir)); err != nil {
		return err
	}
	return p.wipe()
}

// wipe removes everything inside the data directory (never following a
// link), but not the directory.
func (p *postgres) wipe() error {
	entries, err := os.ReadDir(p.dataDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("wipe %s: %w", p.dataDir, err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(p.dataDir, e.Name())); err != nil {
			return fmt.Errorf("wipe %s: %w", p.dataDir, err)
		}
	}
	return nil
}

// chownLike gives path the owner of ref when they differ and the agent may
// change it (runs as root).
func chownLike(path, ref string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(ref)
	if err != nil {
		return fmt.Errorf("stat %s: %w", ref, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if err := os.Chown(path, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}

// readTail returns at most the last n bytes of a file.
func readTail(path string, n int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	off := max(fi.Size()-n, 0)
	b := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil {
		return "", err
	}
	return string(b), nil
}
