package repo

import (
	"bytes"
	"context"
	"time"

	"github.com/pgkeep/pgkeep/pg"
)

// maxXactScan is the largest WAL segment read whole to find its last
// commit; larger segments keep their archive time as the bound.
const maxXactScan = 64 << 20

// xactKey identifies one scan: the object as stored, and the range read.
type xactKey struct {
	key          string
	size         int64
	mod          time.Time
	start, limit pg.LSN
}

type xactTime struct {
	t  time.Time
	ok bool
}

// lastXact reads the WAL object o (its segment starts at start) and
// returns the time of its last commit or abort ending at or before limit.
// An object that cannot be read counts as holding none: restore and verify
// read it again and report it. Results are kept for the life of the Repo,
// so that a server answering /status reads each object once.
func (r *Repo) lastXact(ctx context.Context, o WALObject, start, limit pg.LSN, segSize int64) (time.Time, bool) {
	k := xactKey{key: o.Key, size: o.Size, mod: o.ModTime, start: start, limit: limit}
	if v, ok := r.xacts.Load(k); ok {
		x := v.(xactTime)
		return x.t, x.ok
	}
	if segSize > maxXactScan {
		return time.Time{}, false
	}
	var buf bytes.Buffer
	buf.Grow(int(segSize))
	if _, err := r.ReadObject(ctx, o.Key, &buf); err != nil {
		r.log.Debug("cannot read WAL for its last commit time", "wal", o.Name.Name, "err", err)
		return time.Time{}, false
	}
	t, ok := pg.LastXactTime(buf.Bytes(), start, limit)
	r.xacts.Store(k, xactTime{t: t, ok: ok})
	return t, ok
}
