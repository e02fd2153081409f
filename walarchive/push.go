// Package walarchive moves WAL between PostgreSQL and the repository: the
// archive_command and restore_command hooks, WAL range listing, and (later)
// the streaming receiver.
package walarchive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/pgkeep/pgkeep/pg"
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
	Stored  int64 // bytes stored; 0 when already archived
	Already bool  // the same content was archived before
	Digest  repo.Digest
}

// Push archives the WAL file at path into cluster's archive and returns
// once it is durable. Pushing the same content again succeeds with
// Already set; other content under the same name fails with ErrConflict
// and changes nothing.
func Push(ctx context.Context, r *repo.Repo, cluster *repo.ClusterInfo, path string, log *slog.Logger) (PushResult, error) {
	name := filepath.Base(path)
	w, err := pg.ParseWALName(name)
	if err != nil {
		return PushResult{}, fmt.Errorf("push %s: %w: %v", path, ErrNotWAL, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return PushResult{}, fmt.Errorf("push %s: %w", name, err)
	}
	if err := validate(w, data, cluster); err != nil {
		return PushResult{}, fmt.Errorf("push %s: %w: %v", name, ErrNotWAL, err)
	}
	res := PushResult{Name: name, Key: repo.WALKey(cluster.Name, name), Size: int64(len(data))}
	res.Digest, res.Stored, err = r.PutObject(ctx, res.Key, data, true)
	if err == nil {
		return res, nil
	}
	if !errors.Is(err, storage.ErrExists) {
		return res, fmt.Errorf("push %s: %w", name, err)
	}
	res.Stored = 0
	return res, resolveExisting(ctx, r, &res, data, log)
}

// resolveExisting handles a name that is already archived: same digest
// and intact is success; same digest but damaged is repaired with our
// good copy; a different digest is a conflict.
func resolveExisting(ctx context.Context, r *repo.Repo, res *PushResult, data []byte, log *slog.Logger) error {
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
	_, n, perr := r.PutObject(ctx, res.Key, data, false)
	if perr != nil {
		return fmt.Errorf("push %s: replace damaged copy: %w", res.Name, perr)
	}
	res.Stored = n
	return nil
}
