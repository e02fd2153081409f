package asyncpush

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/walarchive"
)

// ClusterFunc reads the cluster's registration from the repository.
type ClusterFunc func(ctx context.Context) (*repo.ClusterInfo, error)

// cachedCluster returns the registration cached in the spool, or nil.
func (s spoolDir) cachedCluster() (*repo.ClusterInfo, error) {
	var c repo.ClusterInfo
	ok, err := s.readMarker("", clusterFile, &c)
	if !ok || err != nil {
		return nil, err
	}
	return &c, nil
}

// cacheCluster stores the registration in the spool.
func (s spoolDir) cacheCluster(c *repo.ClusterInfo) error {
	return s.writeMarker("", clusterFile, c)
}

// openValidated opens the WAL file at path after the checks of every
// archive-push (walarchive.OpenWAL), against the registration cached in the
// spool, so that accepting a file needs no repository. When the cache is
// missing, or the file fails against it (the registration may have changed
// since, e.g. by an upgrade), the registration is read from the repository.
func openValidated(ctx context.Context, s spoolDir, path string, load ClusterFunc) (*os.File, error) {
	cached, err := s.cachedCluster()
	if err == nil && cached != nil {
		f, verr := walarchive.OpenWAL(path, cached)
		if verr == nil || !errors.Is(verr, walarchive.ErrNotWAL) {
			return f, verr
		}
		err = verr
	}
	c, lerr := load(ctx)
	if lerr != nil {
		if err != nil {
			return nil, err // the cached registration's verdict
		}
		return nil, fmt.Errorf("read the cluster's registration: %w", lerr)
	}
	if cerr := s.cacheCluster(c); cerr != nil {
		return nil, cerr
	}
	return walarchive.OpenWAL(path, c)
}
