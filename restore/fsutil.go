package restore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/pgkeep/pgkeep/internal/durable"
)

// owner is who restored files belong to. When pgkeep runs as root, files
// go to the owner of the data directory (or of its nearest existing parent
// when it is created), so that PostgreSQL's user can start on them.
type owner struct {
	uid, gid int
	set      bool
}

// ownerFor finds the owner of dir or its nearest existing parent; it is
// empty unless the process runs as root.
func ownerFor(dir string) owner {
	if os.Geteuid() != 0 {
		return owner{}
	}
	for d := dir; ; d = filepath.Dir(d) {
		if uid, gid, ok := statOwner(d); ok {
			return owner{uid: uid, gid: gid, set: true}
		}
		if d == filepath.Dir(d) {
			return owner{}
		}
	}
}

// statOwner returns the owner of path, if it exists.
func statOwner(path string) (uid, gid int, ok bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}

// apply gives path (not a link's target) to the owner.
func (o owner) apply(path string) error {
	if !o.set {
		return nil
	}
	if err := os.Lchown(path, o.uid, o.gid); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}

// writeAtomic writes data to path through a temporary file, fsynced and
// renamed over path; the directory is fsynced too.
func writeAtomic(path string, data []byte, mode os.FileMode, own owner) (err error) {
	tmp := path + ".pgkeep-tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = own.apply(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return durable.SyncDir(filepath.Dir(path))
}

// fileMode is a manifest mode as a permission, with a default.
func fileMode(m uint32, def os.FileMode) os.FileMode {
	if p := os.FileMode(m).Perm(); p != 0 {
		return p
	}
	return def
}

// removeIfExists removes path, and is quiet when it is not there.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
