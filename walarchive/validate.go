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
// WAL of cluster c (of any of its generations: see PushFile), named as it
// says (see validate): the checks every
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
// the first page's header (system identifier of one of the cluster's
// generations, segment size, position).
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
	h, err := readPageHeader(f)
	if err != nil {
		if fi.Size() != c.WALSegmentSize {
			return fmt.Errorf("size %d, the cluster's WAL segment size is %d", fi.Size(), c.WALSegmentSize)
		}
		return err
	}
	g := c.ForSystem(h.SystemID)
	if g == nil {
		return fmt.Errorf("system identifier %d in the page header, cluster %q has %d%s", h.SystemID, c.Name, c.SystemID, repo.UpgradeHint(c, h.SystemID))
	}
	c = g
	if fi.Size() != c.WALSegmentSize {
		return fmt.Errorf("size %d, the cluster's WAL segment size is %d", fi.Size(), c.WALSegmentSize)
	}
	if int64(h.SegSize) != c.WALSegmentSize {
		return fmt.Errorf("page header says segment size %d, the cluster's is %d", h.SegSize, c.WALSegmentSize)
	}
	if want := w.StartLSN(c.WALSegmentSize); h.PageAddr != want {
		return fmt.Errorf("first page is at %s, the name says %s", h.PageAddr, want)
	}
	return nil
}

// readPageHeader reads the long header of a segment's first page.
func readPageHeader(f *os.File) (pg.LongPageHeader, error) {
	page := make([]byte, 64)
	if _, err := f.ReadAt(page, 0); err != nil {
		return pg.LongPageHeader{}, err
	}
	return pg.ParseLongPageHeader(page)
}

// generationOf is the generation of cluster c whose archive WAL file f,
// validated by OpenWAL, goes into: for a segment the one of the system
// identifier in its page header (a segment written before a pg_upgrade
// and archived after it goes into the archive of the system that wrote
// it), for other files the current one.
func generationOf(f *os.File, c *repo.ClusterInfo) *repo.ClusterInfo {
	if len(c.History) == 0 {
		return c
	}
	w, err := pg.ParseWALName(filepath.Base(f.Name()))
	if err != nil || w.Kind != pg.KindSegment {
		return c
	}
	h, err := readPageHeader(f)
	if err != nil {
		return c
	}
	if g := c.ForSystem(h.SystemID); g != nil {
		return g
	}
	return c
}
