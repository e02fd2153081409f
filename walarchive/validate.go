package walarchive

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
)

// OpenWAL opens the WAL file at path for reading after checking that it is
// WAL of cluster c, named as it says (see validate): the checks every
// archive-push makes before a file is accepted, synchronous or into the
// async spool. A file that fails them gives an error wrapping ErrNotWAL.
// The caller closes the file.
func OpenWAL(path string, c *repo.ClusterInfo) (*os.File, error) {
	w, err := pg.ParseWALName(filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotWAL, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if err := validate(w, f, c); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %v", ErrNotWAL, err)
	}
	return f, nil
}

// validate checks that the file is what its name says, for this cluster:
// a text file for .history and .backup files; for segments the size and
// the first page's header (system identifier, segment size, position).
func validate(w pg.WALName, f *os.File, c *repo.ClusterInfo) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	switch w.Kind {
	case pg.KindHistory, pg.KindBackupHistory:
		if fi.Size() > 1<<20 {
			return fmt.Errorf("%s is %d bytes: too large for a history file", w.Name, fi.Size())
		}
		data, err := io.ReadAll(io.NewSectionReader(f, 0, fi.Size()))
		if err != nil {
			return err
		}
		if bytes.IndexByte(data, 0) >= 0 {
			return fmt.Errorf("%s is not a text file", w.Name)
		}
		return nil
	}
	if fi.Size() != c.WALSegmentSize {
		return fmt.Errorf("size %d, the cluster's WAL segment size is %d", fi.Size(), c.WALSegmentSize)
	}
	page := make([]byte, 64)
	if _, err := f.ReadAt(page, 0); err != nil {
		return err
	}
	h, err := pg.ParseLongPageHeader(page)
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
