package pg

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// DataDirInfo is what pgkeep reads from a data directory without a server.
type DataDirInfo struct {
	SystemID       uint64
	PGVersion      int
	WALSegmentSize int64
}

// ReadDataDir reads the system identifier from global/pg_control, the
// major version from PG_VERSION and the segment size from the newest WAL
// segment's page header in pg_wal.
func ReadDataDir(dir string) (DataDirInfo, error) {
	var info DataDirInfo
	ver, err := os.ReadFile(filepath.Join(dir, "PG_VERSION"))
	if err != nil {
		return info, fmt.Errorf("%s is not a PostgreSQL data directory: %w", dir, err)
	}
	if info.PGVersion, err = strconv.Atoi(strings.TrimSpace(string(ver))); err != nil {
		return info, fmt.Errorf("%s/PG_VERSION: %w", dir, err)
	}
	if info.SystemID, err = ReadSystemID(dir); err != nil {
		return info, err
	}
	hdr, err := newestSegmentHeader(filepath.Join(dir, "pg_wal"))
	if err != nil {
		return info, err
	}
	if hdr.SystemID != info.SystemID {
		return info, fmt.Errorf("pg_wal belongs to system %d, pg_control to %d", hdr.SystemID, info.SystemID)
	}
	info.WALSegmentSize = int64(hdr.SegSize)
	return info, nil
}

// ReadSystemID reads the system identifier from the data directory's
// global/pg_control (its first field).
func ReadSystemID(dir string) (uint64, error) {
	ctl, err := os.ReadFile(filepath.Join(dir, "global", "pg_control"))
	if err != nil {
		return 0, fmt.Errorf("read pg_control: %w", err)
	}
	if len(ctl) < 8 {
		return 0, fmt.Errorf("%s/global/pg_control is too short", dir)
	}
	return binary.LittleEndian.Uint64(ctl), nil
}

func newestSegmentHeader(walDir string) (LongPageHeader, error) {
	entries, err := os.ReadDir(walDir)
	if err != nil {
		return LongPageHeader{}, fmt.Errorf("read %s: %w", walDir, err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() > entries[j].Name() })
	for _, e := range entries {
		if w, err := ParseWALName(e.Name()); err != nil || w.Kind != KindSegment {
			continue
		}
		f, err := os.Open(filepath.Join(walDir, e.Name()))
		if err != nil {
			return LongPageHeader{}, err
		}
		buf := make([]byte, longHeaderLen)
		_, err = f.ReadAt(buf, 0)
		f.Close()
		if err != nil {
			return LongPageHeader{}, fmt.Errorf("read %s: %w", e.Name(), err)
		}
		if h, err := ParseLongPageHeader(buf); err == nil {
			return h, nil
		}
	}
	return LongPageHeader{}, fmt.Errorf("no readable WAL segment in %s", walDir)
}
