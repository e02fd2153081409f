package walarchive

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/repo/storage"
)

// ErrNotFound: the WAL file is not in the archive (for restore_command: the
// normal end of the archive).
var ErrNotFound = errors.New("not in the archive")

// Get restores WAL file name of cluster generation c (see Generation) into
// dest. The file appears at dest only complete and verified. A file absent
// from the archive wraps ErrNotFound; anything else (damage, unreachable
// storage) is another error, never ErrNotFound.
//
// A segment that is absent while the streaming receiver's <segment>.partial
// is archived is restored from the partial, zero-filled to the segment
// size: it holds the newest streamed WAL (the last acknowledged commits of
// a synchronous archive), and recovery stops where it ends.
func Get(ctx context.Context, r *repo.Repo, c *repo.ClusterInfo, name, dest string) error {
	w, err := pg.ParseWALName(name)
	if err != nil {
		return fmt.Errorf("get %s: %w", name, err)
	}
	tmp := dest + ".pgkeep-tmp"
	defer os.Remove(tmp) // after a successful rename this finds nothing
	err = fetch(ctx, r, c.WALKey(name), tmp, 0, false)
	if errors.Is(err, storage.ErrNotFound) {
		if w.Kind != pg.KindSegment {
			return fmt.Errorf("get %s: %w", name, ErrNotFound)
		}
		err = fetch(ctx, r, c.WALKey(name+".partial"), tmp, c.WALSegmentSize, false)
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("get %s: %w", name, ErrNotFound)
		}
		if err == nil {
			slog.Info("restored from the streamed partial segment: recovery ends in it", "wal", name+".partial")
		}
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", name, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return fmt.Errorf("get %s: %w", name, err)
	}
	return nil
}

// Generation is the generation of cluster c whose WAL a server with data
// directory pgdata replays: the one with the system identifier in its
// pg_control. Without a readable pg_control, or with an identifier c does
// not know, it is c's current generation.
func Generation(c *repo.ClusterInfo, pgdata string) *repo.ClusterInfo {
	if len(c.History) == 0 || pgdata == "" {
		return c
	}
	id, err := pg.ReadSystemID(pgdata)
	if err != nil {
		return c
	}
	if g := c.ForSystem(id); g != nil {
		return g
	}
	return c
}

// Prefetch restores WAL file name of generation c into the file tmp, verified
// and fsynced, for a spool that hands it out later (the caller renames it
// into place). Unlike Get it reads only the archived file itself, never a
// streamed .partial in its stead: a partial grows, and a copy of it would
// go stale. An absent file wraps ErrNotFound.
func Prefetch(ctx context.Context, r *repo.Repo, c *repo.ClusterInfo, name, tmp string) error {
	err := fetch(ctx, r, c.WALKey(name), tmp, 0, true)
	if errors.Is(err, storage.ErrNotFound) {
		err = ErrNotFound
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("prefetch %s: %w", name, err)
	}
	return nil
}

// fetch decodes and verifies the object under key into the file tmp,
// zero-filled to size when size is larger than the object, and fsynced
// with sync.
func fetch(ctx context.Context, r *repo.Repo, key, tmp string, size int64, sync bool) error {
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	_, err = r.ReadObject(ctx, key, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && size > 0 {
		var st os.FileInfo
		if st, err = f.Stat(); err == nil && st.Size() < size {
			err = f.Truncate(size)
		}
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Exists reports whether WAL file name of generation c is archived.
func Exists(ctx context.Context, r *repo.Repo, c *repo.ClusterInfo, name string) (bool, error) {
	_, err := r.Storage().Stat(ctx, c.WALKey(name))
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
