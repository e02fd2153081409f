package pg

import (
	"encoding/binary"
	"fmt"
)

// LongPageHeader is the header of the first page of every WAL segment
// (XLogLongPageHeaderData), stored in the server's byte order (little-endian
// on every platform pgkeep supports).
type LongPageHeader struct {
	Magic     uint16
	Info      uint16
	Timeline  uint32
	PageAddr  LSN
	SystemID  uint64
	SegSize   uint32
	XLogBlock uint32
}

const (
	xlpLongHeader = 0x0002
	longHeaderLen = 40
)

// walMagic maps the WAL page magic to the PostgreSQL major version.
var walMagic = map[uint16]int{
	0xD106: 13, 0xD10D: 14, 0xD110: 15, 0xD113: 16, 0xD116: 17, 0xD118: 18,
}

// ParseLongPageHeader decodes the first page header of a segment.
func ParseLongPageHeader(b []byte) (LongPageHeader, error) {
	if len(b) < longHeaderLen {
		return LongPageHeader{}, fmt.Errorf("%d bytes is too short for a WAL page header", len(b))
	}
	le := binary.LittleEndian
	h := LongPageHeader{
		Magic:     le.Uint16(b[0:]),
		Info:      le.Uint16(b[2:]),
		Timeline:  le.Uint32(b[4:]),
		PageAddr:  LSN(le.Uint64(b[8:])),
		SystemID:  le.Uint64(b[24:]),
		SegSize:   le.Uint32(b[32:]),
		XLogBlock: le.Uint32(b[36:]),
	}
	if _, ok := walMagic[h.Magic]; !ok {
		return h, fmt.Errorf("no WAL page magic (found 0x%04X)", h.Magic)
	}
	if h.Info&xlpLongHeader == 0 {
		return h, fmt.Errorf("first page lacks the long header flag")
	}
	return h, nil
}

// PGVersion is the PostgreSQL major version that wrote the page.
func (h LongPageHeader) PGVersion() int { return walMagic[h.Magic] }

// SegmentHeader is the long page header that PostgreSQL pgVersion writes
// at the start of segment w of cluster sysid (8 kB WAL blocks).
func SegmentHeader(w WALName, sysid uint64, segSize int64, pgVersion int) LongPageHeader {
	h := LongPageHeader{Info: xlpLongHeader, Timeline: w.Timeline, PageAddr: w.StartLSN(segSize),
		SystemID: sysid, SegSize: uint32(segSize), XLogBlock: 8192}
	for magic, v := range walMagic {
		if v == pgVersion {
			h.Magic = magic
		}
	}
	return h
}

// Put writes h into the first bytes of b as ParseLongPageHeader reads it.
func (h LongPageHeader) Put(b []byte) {
	le := binary.LittleEndian
	le.PutUint16(b[0:], h.Magic)
	le.PutUint16(b[2:], h.Info)
	le.PutUint32(b[4:], h.Timeline)
	le.PutUint64(b[8:], uint64(h.PageAddr))
	le.PutUint64(b[24:], h.SystemID)
	le.PutUint32(b[32:], h.SegSize)
	le.PutUint32(b[36:], h.XLogBlock)
}
