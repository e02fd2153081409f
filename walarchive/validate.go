package walarchive

import (
	"bytes"
	"fmt"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
)

// validate checks that data is what its name says, for this cluster.
func validate(w pg.WALName, data []byte, c *repo.ClusterInfo) error {
	switch w.Kind {
	case pg.KindHistory, pg.KindBackupHistory:
		if len(data) > 1<<20 || bytes.IndexByte(data, 0) >= 0 {
			return fmt.Errorf("%s is not a text file", w.Name)
		}
		return nil
	}
	if int64(len(data)) != c.WALSegmentSize {
		return fmt.Errorf("size %d, the cluster's WAL segment size is %d", len(data), c.WALSegmentSize)
	}
	h, err := pg.ParseLongPageHeader(data)
	if err != nil {
		return err
	}
	if h.SystemID != c.SystemID {
		return fmt.Errorf("system identifier %d in the page header, cluster %q has %d", h.SystemID, c.Name, c.SystemID)
	}
	if int64(h.SegSize) != c.WALSegmentSize {
		return fmt.Errorf("page header says segment size %d, the cluster's is %d", h.SegSize, c.WALSegmentSize)
	}
	if want := w.StartLSN(c.WALSegmentSize); h.PageAddr != want {
		return fmt.Errorf("first page is at %s, the name says %s", h.PageAddr, want)
	}
	return nil
}
