package pg

import (
	"encoding/binary"
	"hash/crc32"
	"time"
)

// WAL record layout (access/xlogrecord.h, access/xlog_internal.h,
// access/xact.h), the same in PostgreSQL 13 to 18.
const (
	walBlockSize     = 8192
	shortHeaderLen   = 24 // SizeOfXLogShortPHD
	recordHeaderLen  = 24 // SizeOfXLogRecord
	xlpFirstIsCont   = 0x0001
	rmXLog           = 0 // RM_XLOG_ID
	rmXact           = 1 // RM_XACT_ID
	xlogSwitch       = 0x40
	xactOpMask       = 0x70
	blockIDDataShort = 255
	blockIDDataLong  = 254
	blockIDOrigin    = 253
	blockIDTopXID    = 252
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// pgEpoch is where PostgreSQL's TimestampTz counts microseconds from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// LastXactTime returns the time of the last transaction commit or abort
// record that begins in the WAL segment seg (its bytes, possibly a
// zero-filled .partial), which starts at LSN start, and is complete in it
// and ends at or before limit (0: no limit; recovery along a timeline
// that ends inside the segment replays no further): the newest time that
// recovery_target_time can stop before. Recovery stops only at commit and
// abort records whose time is after the target, so a target at or after
// this time is not reached by replaying up to the segment's end. ok is
// false when the segment holds no such record. The scan stops at the first
// record that is incomplete, fails its CRC or does not link to the one
// before (the end of valid WAL: zeros, or a recycled file's old contents),
// and after a WAL switch.
func LastXactTime(seg []byte, start, limit LSN) (t time.Time, ok bool) {
	h, err := ParseLongPageHeader(seg)
	if err != nil || h.PageAddr != start || h.XLogBlock != walBlockSize || int64(len(seg)) > int64(h.SegSize) {
		return time.Time{}, false
	}
	s := xlogScan{seg: seg, start: h.PageAddr, magic: h.Magic}
	off := int64(longHeaderLen)
	if h.Info&xlpFirstIsCont != 0 {
		// The tail of a record that began in the previous segment.
		rem := int64(binary.LittleEndian.Uint32(seg[16:]))
		var complete bool
		if _, off, complete = s.gather(off, rem, false); !complete {
			return time.Time{}, false
		}
		off = maxAlign(off)
	}
	var prev LSN
	for {
		if off%walBlockSize == 0 {
			if !s.validPage(off, false, 0) {
				return t, ok
			}
			off += shortHeaderLen
		}
		if off+4 > int64(len(seg)) {
			return t, ok
		}
		total := int64(binary.LittleEndian.Uint32(seg[off:]))
		if total < recordHeaderLen {
			return t, ok // zeros: the end of the WAL written
		}
		rec, next, complete := s.gather(off, total, true)
		if !complete || !validRecord(rec, prev) || (limit != 0 && s.start+LSN(next) > limit) {
			return t, ok
		}
		rmid, info := rec[17], rec[16]
		if rmid == rmXact {
			switch info & xactOpMask {
			case 0x00, 0x20, 0x30, 0x40: // COMMIT, ABORT, COMMIT_PREPARED, ABORT_PREPARED
				if xt, found := xactTime(rec); found {
					t, ok = xt, true
				}
			}
		}
		if rmid == rmXLog && info&0xF0 == xlogSwitch {
			return t, ok
		}
		prev = s.start + LSN(off)
		off = maxAlign(next)
	}
}

// xlogScan reads the records of one segment.
type xlogScan struct {
	seg   []byte
	start LSN // the segment's first LSN
	magic uint16
}

// gather collects n bytes starting at offset off, skipping the headers of
// the pages they continue on (each must say so, with the right remaining
// length). With copyOut it returns them; next is the offset after them.
// complete is false when they run past the end of the segment's bytes or
// a page is not a valid continuation.
func (s xlogScan) gather(off, n int64, copyOut bool) (b []byte, next int64, complete bool) {
	if copyOut {
		b = make([]byte, 0, n)
	}
	for n > 0 {
		if off%walBlockSize == 0 {
			if !s.validPage(off, true, n) {
				return nil, 0, false
			}
			off += shortHeaderLen
		}
		take := min(n, walBlockSize-off%walBlockSize)
		if off+take > int64(len(s.seg)) {
			return nil, 0, false
		}
		if copyOut {
			b = append(b, s.seg[off:off+take]...)
		}
		off += take
		n -= take
	}
	return b, off, true
}

// validPage checks the short header of the page at off: this segment's
// magic and address, and, for a continuation, the flag and the remaining
// length rem.
func (s xlogScan) validPage(off int64, cont bool, rem int64) bool {
	if off+shortHeaderLen > int64(len(s.seg)) {
		return false
	}
	p := s.seg[off:]
	le := binary.LittleEndian
	if le.Uint16(p) != s.magic || LSN(le.Uint64(p[8:])) != s.start+LSN(off) {
		return false
	}
	isCont := le.Uint16(p[2:])&xlpFirstIsCont != 0
	if !cont {
		return !isCont
	}
	return isCont && int64(le.Uint32(p[16:])) == rem
}

// validRecord checks a record's CRC and its link to the record before
// (prev; 0: not known).
func validRecord(rec []byte, prev LSN) bool {
	le := binary.LittleEndian
	if prev != 0 && LSN(le.Uint64(rec[8:])) != prev {
		return false
	}
	crc := crc32.Update(0, castagnoli, rec[recordHeaderLen:])
	crc = crc32.Update(crc, castagnoli, rec[:20])
	return crc == le.Uint32(rec[20:])
}

// xactTime reads xact_time, the first field of a commit or abort record's
// main data, which is the record's last bytes. found is false for a
// record with block references (commits and aborts have none) or a
// malformed one.
func xactTime(rec []byte) (time.Time, bool) {
	le := binary.LittleEndian
	p := recordHeaderLen
	for p < len(rec) {
		var mainLen int
		switch id := rec[p]; id {
		case blockIDDataShort:
			if p+2 > len(rec) {
				return time.Time{}, false
			}
			mainLen = int(rec[p+1])
		case blockIDDataLong:
			if p+5 > len(rec) {
				return time.Time{}, false
			}
			mainLen = int(le.Uint32(rec[p+1:]))
		case blockIDOrigin:
			p += 3
			continue
		case blockIDTopXID:
			p += 5
			continue
		default:
			return time.Time{}, false
		}
		if mainLen < 8 || mainLen > len(rec)-recordHeaderLen {
			return time.Time{}, false
		}
		us := int64(le.Uint64(rec[len(rec)-mainLen:]))
		return pgEpoch.Add(time.Duration(us) * time.Microsecond), true
	}
	return time.Time{}, false
}

func maxAlign(off int64) int64 { return (off + 7) &^ 7 }
