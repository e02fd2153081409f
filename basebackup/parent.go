package basebackup

import (
	"context"
	"log/slog"

	"github.com/pgkeep/pgkeep/repo"
)

// chooseParent finds the backup a diff (the newest full) or incr (the
// newest backup) of the cluster's current generation c builds on: never a
// backup from before a pg_upgrade, whose files belong to another system.
// Without one, the backup becomes a full one, as pgBackRest does, with a
// warning.
func chooseParent(ctx context.Context, r *repo.Repo, c *repo.ClusterInfo, typ *string, log *slog.Logger) (*repo.Manifest, error) {
	if *typ == repo.BackupFull {
		return nil, nil
	}
	ms, err := r.Manifests(ctx, c.Name)
	if err != nil {
		return nil, err
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].SystemID != c.SystemID {
			continue
		}
		if *typ == repo.BackupIncr || ms[i].Type == repo.BackupFull {
			return ms[i], nil
		}
	}
	log.Warn("no full backup of this system to build on: taking a full backup", "requested", *typ, "system-id", c.SystemID)
	*typ = repo.BackupFull
	return nil, nil
}

// parentIndex finds a parent's part by file path and offset.
type parentIndex map[string]map[int64]repo.Part

func newParentIndex(m *repo.Manifest) parentIndex {
	idx := parentIndex{}
	if m == nil {
		return idx
	}
	for _, f := range m.Files {
		parts := make(map[int64]repo.Part, len(f.Parts))
		for _, p := range f.Parts {
			parts[p.Offset] = p
		}
		idx[f.Path] = parts
	}
	return idx
}

// lookup returns the parent's part of path at offset with size, if any.
func (p parentIndex) lookup(path string, offset, size int64) (repo.Part, bool) {
	part, ok := p[path][offset]
	return part, ok && part.Size == size
}
