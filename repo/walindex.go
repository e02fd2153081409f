package repo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo/storage"
)

// WALObject is one archived WAL file.
type WALObject struct {
	Key     string
	Name    pg.WALName
	Size    int64 // stored bytes
	ModTime time.Time
	// Plain is a .partial's length: the WAL it holds from the segment's
	// start (from its trailer; 0 when unreadable). Not set for others.
	Plain int64
}

// WALIndex is what the archive of one generation of a cluster holds, for
// recovery planning.
type WALIndex struct {
	// SystemID is the generation's system identifier (0: unknown, in
	// tests). A backup of another system has no window in this WAL.
	SystemID  uint64
	SegSize   int64
	Segments  map[uint32]map[uint64]WALObject // timeline -> segment number -> object
	Partials  map[uint32]map[uint64]WALObject
	Histories map[uint32][]HistoryEntry // timeline -> its history file, parsed
	Other     []WALObject               // .backup files and anything else

	// lastXact reads the time of the last commit or abort in an object's
	// WAL from start up to limit (see pg.LastXactTime); nil: not read.
	lastXact func(o WALObject, start, limit pg.LSN) (time.Time, bool)
}

// HistoryEntry is one line of a timeline history file: timeline Parent
// ended at Switch, where its child began.
type HistoryEntry struct {
	Parent uint32
	Switch pg.LSN
}

// ParseHistory parses a timeline history file ("1\t0/5000000\treason").
func ParseHistory(data []byte) ([]HistoryEntry, error) {
	var out []HistoryEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return nil, fmt.Errorf("history line %q: want timeline and LSN", line)
		}
		tli, err := strconv.ParseUint(f[0], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("history line %q: %w", line, err)
		}
		lsn, err := pg.ParseLSN(f[1])
		if err != nil {
			return nil, fmt.Errorf("history line %q: %w", line, err)
		}
		out = append(out, HistoryEntry{Parent: uint32(tli), Switch: lsn})
	}
	return out, sc.Err()
}

// Archive is the WAL index of every generation of a cluster, oldest first.
type Archive []*WALIndex

// IndexArchive indexes the WAL of every generation of cluster c.
func (r *Repo) IndexArchive(ctx context.Context, c *ClusterInfo) (Archive, error) {
	var a Archive
	for _, g := range c.Generations() {
		idx, err := r.IndexWAL(ctx, g)
		if err != nil {
			return nil, err
		}
		a = append(a, idx)
	}
	return a, nil
}

// Of returns the index of the generation with system identifier id, or nil.
func (a Archive) Of(id uint64) *WALIndex {
	for _, idx := range a {
		if idx.SystemID == id {
			return idx
		}
	}
	return nil
}

// Window is Window of backup m in the WAL of its own generation.
func (a Archive) Window(m *Manifest, to uint32) BackupWindow {
	if idx := a.Of(m.SystemID); idx != nil {
		return idx.Window(m, to)
	}
	return BackupWindow{Label: m.Label, Timeline: to, StartTime: ceilMicrosecond(m.StopTime),
		Problem: fmt.Sprintf("system identifier %d is none of the cluster's", m.SystemID)}
}

// IndexWAL lists the archive of cluster generation c (see Generations) and
// reads its history files.
func (r *Repo) IndexWAL(ctx context.Context, c *ClusterInfo) (*WALIndex, error) {
	idx := &WALIndex{
		SystemID:  c.SystemID,
		SegSize:   c.WALSegmentSize,
		Segments:  map[uint32]map[uint64]WALObject{},
		Partials:  map[uint32]map[uint64]WALObject{},
		Histories: map[uint32][]HistoryEntry{},
	}
	var histories, partials []WALObject
	err := r.store.List(ctx, c.WALPrefix(), func(info storage.ObjectInfo) error {
		w, err := pg.ParseWALName(WALNameOfKey(info.Key))
		if err != nil {
			return nil // strays are verify's business
		}
		o := WALObject{Key: info.Key, Name: w, Size: info.Size, ModTime: info.ModTime}
		switch w.Kind {
		case pg.KindSegment:
			addSeg(idx.Segments, o, c.WALSegmentSize)
		case pg.KindPartial:
			partials = append(partials, o)
		case pg.KindHistory:
			histories = append(histories, o)
		default:
			idx.Other = append(idx.Other, o)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list WAL of %s: %w", c.Name, err)
	}
	for _, o := range partials {
		// A partial replaced between the size and the read of its trailer
		// reads as a bad one: it is read again, once. One that stays
		// unreadable counts for nothing here; verify checks it whole.
		for range 2 {
			size, _, err := r.ObjectDigest(ctx, o.Key)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err == nil && size <= c.WALSegmentSize {
				o.Plain = size
				break
			}
		}
		addSeg(idx.Partials, o, c.WALSegmentSize)
	}
	for _, h := range histories {
		var buf bytes.Buffer
		if _, err := r.ReadObject(ctx, h.Key, &buf); err != nil {
			return nil, err
		}
		entries, err := ParseHistory(buf.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name.Name, err)
		}
		idx.Histories[h.Name.Timeline] = entries
	}
	idx.lastXact = func(o WALObject, start, limit pg.LSN) (time.Time, bool) {
		return r.lastXact(ctx, o, start, limit, c.WALSegmentSize)
	}
	return idx, nil
}

func addSeg(m map[uint32]map[uint64]WALObject, o WALObject, segSize int64) {
	if m[o.Name.Timeline] == nil {
		m[o.Name.Timeline] = map[uint64]WALObject{}
	}
	m[o.Name.Timeline][o.Name.SegNo(segSize)] = o
}

// ErrNoTimelinePath: the target timeline does not descend from the backup's.
var ErrNoTimelinePath = errors.New("timeline does not descend from the backup's timeline")

// span is a stretch of a timeline on the way to a target timeline.
type span struct {
	tli        uint32
	begin, end pg.LSN // end 0: open
}

// path returns the timelines recovery goes through from timeline from at
// LSN start to timeline to, per to's history file.
func (idx *WALIndex) path(from uint32, start pg.LSN, to uint32) ([]span, error) {
	if from == to {
		return []span{{tli: to, begin: start}}, nil
	}
	hist, ok := idx.Histories[to]
	if !ok {
		return nil, fmt.Errorf("%w: no history file for timeline %d in the archive", ErrNoTimelinePath, to)
	}
	var spans []span
	begin := pg.LSN(0)
	found := false
	for _, h := range hist {
		if h.Parent == from {
			found = true
		}
		if found {
			spans = append(spans, span{tli: h.Parent, begin: max(begin, start), end: h.Switch})
		}
		begin = h.Switch
	}
	if !found {
		return nil, fmt.Errorf("%w: timeline %d's history does not include timeline %d", ErrNoTimelinePath, to, from)
	}
	if spans[0].end <= start {
		return nil, fmt.Errorf("%w: timeline %d left timeline %d at %s, before the backup's %s",
			ErrNoTimelinePath, to, from, spans[0].end, start)
	}
	return append(spans, span{tli: to, begin: begin}), nil
}

// LatestTimeline is the highest timeline that has segments or a history file.
func (idx *WALIndex) LatestTimeline() uint32 {
	var latest uint32
	for t := range idx.Segments {
		latest = max(latest, t)
	}
	for t := range idx.Histories {
		latest = max(latest, t)
	}
	return latest
}

// Reach follows the archive from startLSN on timeline from towards timeline
// to and returns where contiguous WAL ends: the LSN after the last archived
// segment, and endTime, the time of the last commit or abort in the WAL
// up to there (recovery_target_time stops only before a commit or abort
// after the target, so a later target is not reached). When the last
// segments hold none, or the index cannot read them, endTime is the last
// object's archive time, an upper bound. Segments are looked up the way
// recovery does: the newest timeline of the path that has begun by the end
// of the segment. lastCommit says which of the two endTime is.
func (idx *WALIndex) Reach(from uint32, start pg.LSN, to uint32) (end pg.LSN, endTime time.Time, lastCommit bool, err error) {
	spans, err := idx.path(from, start, to)
	if err != nil {
		return 0, time.Time{}, false, err
	}
	seg := uint64(start) / uint64(idx.SegSize)
	end = start
	var tail []walPiece // the last objects on the way, newest last
	for {
		segEnd := pg.LSN((seg + 1) * uint64(idx.SegSize))
		o, ok := idx.lookup(spans, seg, segEnd)
		if !ok {
			break
		}
		end, endTime = segEnd, o.ModTime
		tail = appendPiece(tail, walPiece{o: o, start: segEnd - pg.LSN(idx.SegSize), limit: spanEnd(spans, o.Name.Timeline, segEnd)})
		seg++
	}
	// The archive may end in the streaming receiver's .partial of the next
	// segment, which archive-get hands out when the segment is absent.
	if p, ok := idx.partial(spans, seg); ok && p.end > end {
		end, endTime = p.end, p.o.ModTime
		tail = appendPiece(tail, walPiece{o: p.o, start: pg.LSN(seg * uint64(idx.SegSize)), limit: p.end})
	}
	if t, ok := idx.lastCommit(tail, start); ok {
		endTime, lastCommit = t, true
	}
	return end, endTime, lastCommit, nil
}

// walPiece is an object on a recovery path, with the LSN its segment
// starts at and where recovery stops reading it.
type walPiece struct {
	o            WALObject
	start, limit pg.LSN
}

// tailPieces is how many of the last objects of a path are searched for
// the last commit.
const tailPieces = 4

func appendPiece(tail []walPiece, p walPiece) []walPiece {
	if len(tail) == tailPieces {
		tail = append(tail[:0], tail[1:]...)
	}
	return append(tail, p)
}

// spanEnd is where the path leaves timeline tli if that is before segEnd,
// else segEnd.
func spanEnd(spans []span, tli uint32, segEnd pg.LSN) pg.LSN {
	for _, s := range spans {
		if s.tli == tli && s.end != 0 && s.end < segEnd {
			return s.end
		}
	}
	return segEnd
}

// lastCommit is the time of the last commit or abort in tail, newest
// object first, at or after LSN from.
func (idx *WALIndex) lastCommit(tail []walPiece, from pg.LSN) (time.Time, bool) {
	if idx.lastXact == nil {
		return time.Time{}, false
	}
	for i := len(tail) - 1; i >= 0; i-- {
		if tail[i].limit <= from {
			break
		}
		if t, ok := idx.lastXact(tail[i].o, tail[i].start, tail[i].limit); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

// covers reports whether spans[i] holds WAL of the segment from segStart
// to segEnd; the first span counts from before its begin, where the backup
// that recovery starts from lies.
func covers(spans []span, i int, segStart, segEnd pg.LSN) bool {
	s := spans[i]
	return (s.begin < segEnd || i == 0) && (s.end == 0 || s.end > segStart)
}

// partialEnd is a .partial and where its WAL ends.
type partialEnd struct {
	o   WALObject
	end pg.LSN
}

// partial finds the .partial of segment seg on the timeline recovery asks
// for first: the newest of spans that covers the segment. Partials of older
// timelines are left out even where archive-get would hand one out, as
// recovery past their end would need the newer timeline's WAL.
func (idx *WALIndex) partial(spans []span, seg uint64) (partialEnd, bool) {
	segStart := pg.LSN(seg * uint64(idx.SegSize))
	segEnd := segStart + pg.LSN(idx.SegSize)
	for i := len(spans) - 1; i >= 0; i-- {
		if !covers(spans, i, segStart, segEnd) {
			continue
		}
		s := spans[i]
		o, ok := idx.Partials[s.tli][seg]
		if !ok || o.Plain == 0 {
			return partialEnd{}, false
		}
		end := segStart + pg.LSN(o.Plain)
		if s.end != 0 {
			end = min(end, s.end)
		}
		return partialEnd{o: o, end: end}, true
	}
	return partialEnd{}, false
}

// lookup finds segment seg on the newest timeline of spans that began
// before segEnd and had not ended before the segment's start.
func (idx *WALIndex) lookup(spans []span, seg uint64, segEnd pg.LSN) (WALObject, bool) {
	segStart := pg.LSN(seg * uint64(idx.SegSize))
	for i := len(spans) - 1; i >= 0; i-- {
		if !covers(spans, i, segStart, segEnd) {
			continue
		}
		if o, ok := idx.Segments[spans[i].tli][seg]; ok {
			return o, true
		}
	}
	return WALObject{}, false
}
