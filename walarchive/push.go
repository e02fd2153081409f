// Package walarchive moves WAL between PostgreSQL and the repository: the
// archive_command and restore_command hooks, WAL range listing, and (later)
// the streaming receiver.
package walarchive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/repo/storage"
)

// ErrConflict: the archive holds different content under the same name.
var ErrConflict = errors.New("different content already archived under this name")

// ErrNotWAL: the file is not WAL of this cluster.
var ErrNotWAL = errors.New("not a WAL file of this cluster")

// PushResult says what Push did.
type PushResult struct {
	Name    string
	Key     string
	Size    int64 // plain bytes
	Already bool  // the same content was archived before
	Digest  repo.Digest
}

// Push archives the WAL file at path into cluster's archive and returns
// once it is durable. The file is streamed through the encoder to storage,
// never held whole in memory. Pushing the same content again succeeds with
// Already set; other content under the same name fails with ErrConflict
// and changes nothing.
func Push(ctx context.Context, r *repo.Repo, cluster *repo.ClusterInfo, path string, log *slog.Logger) (PushResult, error) {
	f, err := OpenWAL(path, cluster)
	if err != nil {
		return PushResult{}, fmt.Errorf("push %s: %w", filepath.Base(path), err)
	}
	defer f.Close()
	return PushFile(ctx, r, cluster, f, nil, log)
}

// PushFile is Push of a file opened (and so validated) by OpenWAL. For a
// file that may stop being what it was, such as a segment in pg_wal that
// PostgreSQL may recycle once it is archived, check (nil: none) runs after
// every byte was read and before anything is written: its error aborts the
// push, changing nothing.
func PushFile(ctx context.Context, r *repo.Repo, cluster *repo.ClusterInfo, f *os.File, check func() error, log *slog.Logger) (PushResult, error) {
	name := filepath.Base(f.Name())
	cluster = generationOf(f, cluster)
	res := PushResult{Name: name, Key: cluster.WALKey(name)}
	st, err := f.Stat()
	if err != nil {
		return PushResult{}, fmt.Errorf("push %s: %w", name, err)
	}
	res.Size = st.Size()
	res.Digest, err = r.PutFileChecked(ctx, res.Key, f, res.Size, true, check)
	if err == nil {
		return res, nil
	}
	if !errors.Is(err, storage.ErrExists) {
		return res, fmt.Errorf("push %s: %w", name, err)
	}
	// Someone archived this name before: hash our copy to compare.
	h := r.Codec().NewHash()
	if res.Size, err = io.Copy(h, io.NewSectionReader(f, 0, 1<<40)); err == nil && check != nil {
		err = check()
	}
	if err != nil {
		return res, fmt.Errorf("push %s: %w", name, err)
	}
	copy(res.Digest[:], h.Sum(nil))
	return res, resolveExisting(ctx, r, &res, f, check, log)
}

// resolveExisting handles a name that is already archived: same digest
// and intact is success; same digest but damaged is repaired with our
// good copy; a different digest is a conflict.
func resolveExisting(ctx context.Context, r *repo.Repo, res *PushResult, f *os.File, check func() error, log *slog.Logger) error {
	size, stored, err := r.ObjectDigest(ctx, res.Key)
	if err != nil && !repo.IsCorrupt(err) {
		return fmt.Errorf("push %s: read archived copy: %w", res.Name, err)
	}
	if err == nil && (stored != res.Digest || size != res.Size) {
		return fmt.Errorf("push %s: %w (archived: %d bytes, checksum %s; pushed: %d bytes, checksum %s); the archive is unchanged",
			res.Name, ErrConflict, size, stored, res.Size, res.Digest)
	}
	if err == nil {
		if _, err = r.VerifyObject(ctx, res.Key); err == nil {
			res.Already = true
			log.Info("WAL file already archived with the same content", "wal", res.Name)
			return nil
		}
		if !repo.IsCorrupt(err) {
			return fmt.Errorf("push %s: verify archived copy: %w", res.Name, err)
		}
	}
	log.Warn("archived copy is damaged; replacing it with the pushed file", "wal", res.Name, "err", err)
	if _, err := r.PutFileChecked(ctx, res.Key, f, res.Size, false, check); err != nil {
		return fmt.Errorf("push %s: replace damaged copy: %w", res.Name, err)
	}
	return nil
}
