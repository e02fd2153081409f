package repo

import (
	"bytes"
	"context"
	"sync"
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

// xactCache holds scan results for the life of a Repo, up to
// maxXactCache of them (then it starts over): a server answering /status
// reads each new object once.
type xactCache struct {
	mu sync.Mutex
	m  map[xactKey]xactTime
}

const maxXactCache = 4096

func (c *xactCache) get(k xactKey) (xactTime, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	x, ok := c.m[k]
	return x, ok
}

func (c *xactCache) put(k xactKey, x xactTime) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxXactCache {
		c.m = map[xactKey]xactTime{}
	}
	c.m[k] = x
}

// lastXact reads the WAL object o (its segment starts at start) and
// returns the time of its last commit or abort ending at or before limit.
// An object that cannot be read counts as holding none: restore and verify
// read it again and report it.
func (r *Repo) lastXact(ctx context.Context, o WALObject, start, limit pg.LSN, segSize int64) (time.Time, bool) {
	k := xactKey{key: o.Key, size: o.Size, mod: o.ModTime, start: start, limit: limit}
	if x, ok := r.xacts.get(k); ok {
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
	r.xacts.put(k, xactTime{t: t, ok: ok})
	return t, ok
}
