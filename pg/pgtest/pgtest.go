// Package pgtest builds PostgreSQL files for unit tests of pure logic,
// where a real server would add nothing.
package pgtest

import (
	"bytes"

	"github.com/pgkeep/pgkeep/pg"
)

// Segment builds WAL segment name of cluster sysid (PostgreSQL 15),
// segSize bytes with a valid long page header, filled with fill.
func Segment(name string, sysid uint64, segSize int64, fill byte) []byte {
	w, err := pg.ParseWALName(name)
	if err != nil {
		panic(err)
	}
	b := bytes.Repeat([]byte{fill}, int(segSize))
	pg.SegmentHeader(w, sysid, segSize, 15).Put(b)
	return b
}
