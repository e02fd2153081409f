package repo

import (
	"bytes"
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

// ClusterInfo is the content of <cluster>/cluster.json: the cluster's
// current generation and, after major-version upgrades (pg_upgrade gives
// the cluster a new system identifier), the generations before it.
//
// A generation's WAL lives under its own prefix (WALPrefix): pg_upgrade
// starts the new cluster on timeline 1, so its history files, and with
// pg_resetwal's choice of start segment possibly its segment names, would
// collide with the old cluster's. A backup belongs to the generation of its
// system identifier and is restored with that generation's WAL.
type ClusterInfo struct {
	Name           string    `json:"name"`
	SystemID       uint64    `json:"system-id,string"`
	PGVersion      int       `json:"pg-version"`     // major version, e.g. 15
	PGVersionNum   int       `json:"pg-version-num"` // server_version_num, e.g. 150018
	WALSegmentSize int64     `json:"wal-segment-size"`
	Created        time.Time `json:"created"`
	// Generation numbers the cluster's system identifiers from 1 (0 in a
	// cluster.json that was never upgraded: the same as 1).
	Generation int `json:"generation,omitempty"`
	// History holds the earlier generations, oldest first (none before an
	// upgrade).
	History  []Generation `json:"history,omitempty"`
	Checksum string       `json:"checksum"`
}

// Generation is an earlier generation of a cluster in its History.
type Generation struct {
	Generation     int       `json:"generation"`
	SystemID       uint64    `json:"system-id,string"`
	PGVersion      int       `json:"pg-version"`
	PGVersionNum   int       `json:"pg-version-num"`
	WALSegmentSize int64     `json:"wal-segment-size"`
	Created        time.Time `json:"created"`
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

// Gen is the number of c's generation (1 for a cluster never upgraded).
func (c *ClusterInfo) Gen() int { return max(c.Generation, 1) }

// Generations returns every generation of c, oldest first, the current one
// last; each is a ClusterInfo of its own, without History.
func (c *ClusterInfo) Generations() []*ClusterInfo {
	out := make([]*ClusterInfo, 0, len(c.History)+1)
	for _, h := range c.History {
		out = append(out, &ClusterInfo{Name: c.Name, SystemID: h.SystemID, PGVersion: h.PGVersion, PGVersionNum: h.PGVersionNum,
			WALSegmentSize: h.WALSegmentSize, Created: h.Created, Generation: h.Generation})
	}
	cur := *c
	cur.History, cur.Checksum = nil, ""
	return append(out, &cur)
}

// ForSystem returns the generation of c with system identifier id, or nil.
func (c *ClusterInfo) ForSystem(id uint64) *ClusterInfo {
	for _, g := range c.Generations() {
		if g.SystemID == id {
			return g
		}
	}
	return nil
}

// Describe names the generation for messages.
func (c *ClusterInfo) Describe() string {
	return fmt.Sprintf("generation %d (system identifier %d, PostgreSQL %d)", c.Gen(), c.SystemID, c.PGVersion)
}

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
		return nil, false, fmt.Errorf("cluster %q is registered with system identifier %d (PostgreSQL %d), this server has %d (PostgreSQL %d)%s: %w",
			info.Name, existing.SystemID, existing.PGVersion, info.SystemID, info.PGVersion, UpgradeHint(&existing, info.SystemID), ErrClusterMismatch)
	}
	return &existing, false, nil
}

// UpgradeHint is the advice for a server whose system identifier is not
// cluster c's current one.
func UpgradeHint(c *ClusterInfo, id uint64) string {
	if g := c.ForSystem(id); g != nil {
		return fmt.Sprintf(" (%d is the cluster's generation %d, from before an upgrade)", id, g.Gen())
	}
	return "; after pg_upgrade, register the upgraded cluster with `pgkeep create --upgrade`"
}

// UpgradeCluster makes info the new current generation of the registered
// cluster info.Name, after a major-version upgrade (or any pg_upgrade)
// gave the cluster a new system identifier: the generation before it goes
// into History with its WAL and backups, which stay restorable. Upgrading
// to the current system identifier is a no-op (upgraded=false); to the
// identifier of an earlier generation is refused, as is an older major
// version.
func (r *Repo) UpgradeCluster(ctx context.Context, info ClusterInfo) (stored *ClusterInfo, upgraded bool, err error) {
	cur, err := r.Cluster(ctx, info.Name)
	if err != nil {
		return nil, false, err
	}
	switch g := cur.ForSystem(info.SystemID); {
	case g == nil:
	case g.Gen() == cur.Gen():
		return cur, false, nil
	default:
		return nil, false, fmt.Errorf("upgrade cluster %q: system identifier %d is its generation %d, older than the current generation %d (%d): %w",
			info.Name, info.SystemID, g.Gen(), cur.Gen(), cur.SystemID, ErrClusterMismatch)
	}
	if info.PGVersion < cur.PGVersion {
		return nil, false, fmt.Errorf("upgrade cluster %q: PostgreSQL %d is older than the registered PostgreSQL %d", info.Name, info.PGVersion, cur.PGVersion)
	}
	if info.Created.IsZero() {
		info.Created = time.Now().UTC()
	}
	prev := Generation{Generation: cur.Gen(), SystemID: cur.SystemID, PGVersion: cur.PGVersion, PGVersionNum: cur.PGVersionNum,
		WALSegmentSize: cur.WALSegmentSize, Created: cur.Created}
	info.History = append(append([]Generation(nil), cur.History...), prev)
	info.Generation = cur.Gen() + 1
	data, err := marshalMeta(&info)
	if err != nil {
		return nil, false, err
	}
	err = r.store.Put(ctx, clusterKey(info.Name), bytes.NewReader(data), int64(len(data)), storage.PutOptions{})
	if errors.Is(err, storage.ErrExists) || errors.Is(err, storage.ErrPermission) {
		// A repository API lets database nodes add objects, not replace them.
		return nil, false, fmt.Errorf("upgrade cluster %q: run create --upgrade where the repository's storage is configured (the repository server's host): %w",
			info.Name, err)
	}
	if err != nil {
		return nil, false, fmt.Errorf("upgrade cluster %q: %w", info.Name, err)
	}
	return &info, true, nil
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
