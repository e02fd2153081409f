package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo/storage"
)

// ErrNoCluster: the cluster is not registered in the repository.
var ErrNoCluster = errors.New("cluster not registered")

// ErrClusterMismatch: a server does not belong to the registered cluster.
var ErrClusterMismatch = errors.New("system identifier mismatch")

// ClusterInfo is the content of <cluster>/cluster.json.
type ClusterInfo struct {
	Name           string    `json:"name"`
	SystemID       uint64    `json:"system-id,string"`
	PGVersion      int       `json:"pg-version"`     // major version, e.g. 15
	PGVersionNum   int       `json:"pg-version-num"` // server_version_num, e.g. 150018
	WALSegmentSize int64     `json:"wal-segment-size"`
	Created        time.Time `json:"created"`
	Checksum       string    `json:"checksum"`
}

func (c *ClusterInfo) setChecksum(s string) string { old := c.Checksum; c.Checksum = s; return old }

// ValidClusterName reports whether name may name a cluster.
func ValidClusterName(name string) error {
	if !pg.ValidClusterName(name) {
		return fmt.Errorf("invalid cluster name %q: want %s", name, pg.ClusterNameRule)
	}
	return nil
}

func clusterKey(name string) string { return name + "/cluster.json" }

// Cluster returns the registration of cluster name, or an error wrapping
// ErrNoCluster.
func (r *Repo) Cluster(ctx context.Context, name string) (*ClusterInfo, error) {
	var c ClusterInfo
	if err := readMeta(ctx, r.store, clusterKey(name), &c); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("cluster %q in %s: %w: run `pgkeep create` first", name, r.Location(), ErrNoCluster)
		}
		return nil, fmt.Errorf("cluster %q: %w", name, err)
	}
	return &c, nil
}

// CreateCluster registers a cluster. Registering the same system identifier
// again is a no-op that returns the stored registration and created=false;
// another system identifier is refused with ErrClusterMismatch.
func (r *Repo) CreateCluster(ctx context.Context, info ClusterInfo) (stored *ClusterInfo, created bool, err error) {
	if err := ValidClusterName(info.Name); err != nil {
		return nil, false, err
	}
	if info.Created.IsZero() {
		info.Created = time.Now().UTC()
	}
	var existing ClusterInfo
	err = createMeta(ctx, r.store, clusterKey(info.Name), &info, &existing)
	switch {
	case err == nil:
		return &info, true, nil
	case !errors.Is(err, storage.ErrExists):
		return nil, false, fmt.Errorf("register cluster %q: %w", info.Name, err)
	case existing.SystemID != info.SystemID:
		return nil, false, fmt.Errorf("cluster %q is registered with system identifier %d (PostgreSQL %d), this server has %d (PostgreSQL %d): %w",
			info.Name, existing.SystemID, existing.PGVersion, info.SystemID, info.PGVersion, ErrClusterMismatch)
	}
	return &existing, false, nil
}

// Clusters lists the names of the registered clusters.
func (r *Repo) Clusters(ctx context.Context) ([]string, error) {
	var names []string
	err := r.store.List(ctx, "", func(info storage.ObjectInfo) error {
		if dir, ok := cutSuffix(info.Key, "/cluster.json"); ok && ValidClusterName(dir) == nil {
			names = append(names, dir)
		}
		return nil
	})
	return names, err
}

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
		return s[:len(s)-len(suffix)], true
	}
	return "", false
}
