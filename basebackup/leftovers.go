package basebackup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/repo/storage"
)

// removeLeftovers deletes the objects of interrupted backups (labels with
// bundles but no manifest) and their half-written objects. The caller holds
// the repository lock, so no backup is being written.
func removeLeftovers(ctx context.Context, r *repo.Repo, cluster string, log *slog.Logger) error {
	prefix := repo.BackupPrefix(cluster)
	keys := map[string][]string{}
	complete := map[string]bool{}
	err := r.Storage().List(ctx, prefix, func(info storage.ObjectInfo) error {
		label, rest, ok := strings.Cut(strings.TrimPrefix(info.Key, prefix), "/")
		if !ok || !repo.ValidLabel(label) {
			return nil
		}
		if rest == "manifest" {
			complete[label] = true
		}
		keys[label] = append(keys[label], info.Key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list backups: %w", err)
	}
	for label, ks := range keys {
		if complete[label] {
			continue
		}
		log.Warn("removing the objects of an interrupted backup", "label", label, "objects", len(ks))
		for _, k := range ks {
			if err := r.Storage().Remove(ctx, k); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("remove leftover %s: %w", k, err)
			}
		}
	}
	// Half-written objects of a killed backup (posix temporary files).
	n, err := storage.RemoveTemp(ctx, r.Storage(), prefix)
	if err != nil {
		return err
	}
	if n > 0 {
		log.Warn("removed temporary files of an interrupted backup", "files", n)
	}
	return nil
}
