// Package pg holds PostgreSQL facts shared by several pgkeep packages: LSNs,
// WAL file names, WAL page headers, pg_control and server connections.
package pg

import (
	"fmt"
	"regexp"
	"strconv"
)

// LSN is a WAL position.
type LSN uint64

func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint32(l)) }

// MarshalText writes the LSN in PostgreSQL's notation, so JSON shows
// "16/B374D848" as psql does.
func (l LSN) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText parses PostgreSQL's notation.
func (l *LSN) UnmarshalText(b []byte) error {
	v, err := ParseLSN(string(b))
	*l = v
	return err
}

// ParseLSN parses PostgreSQL's "X/X" notation.
func ParseLSN(s string) (LSN, error) {
	var hi, lo uint32
	if _, err := fmt.Sscanf(s, "%X/%X", &hi, &lo); err != nil {
		return 0, fmt.Errorf("invalid LSN %q: want the form 16/B374D848", s)
	}
	return LSN(uint64(hi)<<32 | uint64(lo)), nil
}

// WALKind classifies a file name found in pg_wal or the archive.
type WALKind int

// The kinds of WAL file names.
const (
	KindSegment       WALKind = iota + 1 // 000000010000000000000001
	KindPartial                          // 000000010000000000000001.partial
	KindHistory                          // 00000002.history
	KindBackupHistory                    // 000000010000000000000001.00000028.backup
)

// WALName is a parsed WAL file name. Log and Seg are the two halves of the
// segment part of the name, as PostgreSQL prints them.
type WALName struct {
	Name     string
	Kind     WALKind
	Timeline uint32
	Log, Seg uint32
}

var (
	segmentRe = regexp.MustCompile(`^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\.partial|\.[0-9A-F]{8}\.backup)?$`)
	historyRe = regexp.MustCompile(`^([0-9A-F]{8})\.history$`)
)

// ParseWALName parses the name of a WAL segment, partial segment, timeline
// history file or backup history file.
func ParseWALName(name string) (WALName, error) {
	if m := historyRe.FindStringSubmatch(name); m != nil {
		tli, _ := strconv.ParseUint(m[1], 16, 32)
		if tli == 0 {
			return WALName{}, fmt.Errorf("%q: timeline 0 does not exist", name)
		}
		return WALName{Name: name, Kind: KindHistory, Timeline: uint32(tli)}, nil
	}
	m := segmentRe.FindStringSubmatch(name)
	if m == nil {
		return WALName{}, fmt.Errorf("%q is not a WAL file name (segment, .partial, .history or .backup)", name)
	}
	tli, _ := strconv.ParseUint(m[1], 16, 32)
	log, _ := strconv.ParseUint(m[2], 16, 32)
	seg, _ := strconv.ParseUint(m[3], 16, 32)
	w := WALName{Name: name, Kind: KindSegment, Timeline: uint32(tli), Log: uint32(log), Seg: uint32(seg)}
	switch {
	case m[4] == ".partial":
		w.Kind = KindPartial
	case m[4] != "":
		w.Kind = KindBackupHistory
	}
	if tli == 0 {
		return WALName{}, fmt.Errorf("%q: timeline 0 does not exist", name)
	}
	return w, nil
}

// SegmentsPerLog is how many segments of segSize fill one 4 GiB "log".
func SegmentsPerLog(segSize int64) uint64 { return 0x100000000 / uint64(segSize) }

// SegNo is the segment's number counted from LSN 0, for segSize.
func (w WALName) SegNo(segSize int64) uint64 {
	return uint64(w.Log)*SegmentsPerLog(segSize) + uint64(w.Seg)
}

// StartLSN is the LSN at which the segment begins, for segSize.
func (w WALName) StartLSN(segSize int64) LSN { return LSN(w.SegNo(segSize) * uint64(segSize)) }

// SegmentName returns the name of segment segNo on timeline tli.
func SegmentName(tli uint32, segNo uint64, segSize int64) string {
	per := SegmentsPerLog(segSize)
	return fmt.Sprintf("%08X%08X%08X", tli, segNo/per, segNo%per)
}

// SegmentOf returns the name of the segment holding lsn.
func SegmentOf(tli uint32, lsn LSN, segSize int64) string {
	return SegmentName(tli, uint64(lsn)/uint64(segSize), segSize)
}

// ValidSegmentSize reports whether size is a WAL segment size PostgreSQL
// allows: a power of two from 1 MiB to 1 GiB.
func ValidSegmentSize(size int64) bool {
	return size >= 1<<20 && size <= 1<<30 && size&(size-1) == 0
}
