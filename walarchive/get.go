package walarchive

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/repo/storage"
)

// ErrNotFound: the WAL file is not in the archive (for restore_command: the
// normal end of the archive).
var ErrNotFound = errors.New("not in the archive")

// Get restores WAL file name of cluster into dest. The file appears at dest
// only complete and verified. A file absent from the archive wraps
// ErrNotFound; anything else (damage, unreachable storage, unknown cluster)
// is another error, never ErrNotFound.
func Get(ctx context.Context, r *repo.Repo, cluster, name, dest string) error {
	if _, err := pg.ParseWALName(name); err != nil {
		return fmt.Errorf("get %s: %w", name, err)
	}
	key := repo.WALKey(cluster, name)
	tmp := dest + ".pgkeep-tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("get %s: %w", name, err)
	}
	defer os.Remove(tmp) // after a successful rename this finds nothing
	bw := bufio.NewWriterSize(f, 1<<20)
	_, err = r.ReadObject(ctx, key, bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, storage.ErrNotFound) {
		// Tell "not archived" from "wrong cluster": the latter must never
		// look like the end of the archive.
		if _, cerr := r.Cluster(ctx, cluster); cerr != nil {
			return fmt.Errorf("get %s: %w", name, cerr)
		}
		return fmt.Errorf("get %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", name, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return fmt.Errorf("get %s: %w", name, err)
	}
	return nil
}

// Exists reports whether WAL file name is archived.
func Exists(ctx context.Context, r *repo.Repo, cluster, name string) (bool, error) {
	_, err := r.Storage().Stat(ctx, repo.WALKey(cluster, name))
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
