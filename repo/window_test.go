package repo

import (
	"bytes"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
)

const seg = 16 << 20

func testIndex(segs map[uint32][]uint64, hist map[uint32][]HistoryEntry) *WALIndex {
	idx := &WALIndex{SegSize: seg, Segments: map[uint32]map[uint64]WALObject{}, Histories: hist}
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for tli, nos := range segs {
		for _, no := range nos {
			name, _ := pg.ParseWALName(pg.SegmentName(tli, no, seg))
			addSeg(idx.Segments, WALObject{Name: name, ModTime: t0.Add(time.Duration(no) * time.Minute)}, seg)
		}
	}
	return idx
}

func TestReachAcrossTimelines(t *testing.T) {
	// Timeline 2 forked from 1 at 0/5800000 (inside segment 5).
	idx := testIndex(map[uint32][]uint64{
		1: {2, 3, 4, 5, 6},
		2: {5, 6, 7, 9},
	}, map[uint32][]HistoryEntry{2: {{Parent: 1, Switch: 0x5800000}}})
	m := &Manifest{Label: "b", Timeline: 1, StartLSN: "0/2000028", StopLSN: "0/3000100", StopTime: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}

	w := idx.Window(m, 0)
	if !w.Restorable || w.Timeline != 2 || w.EndLSN != 8*seg {
		t.Fatalf("latest: %+v", w)
	}
	if w.EndTime != idx.Segments[2][7].ModTime {
		t.Fatalf("end time %v", w.EndTime)
	}
	w1 := idx.Window(m, 1)
	if !w1.Restorable || w1.EndLSN != 7*seg {
		t.Fatalf("timeline 1: %+v", w1)
	}
	// Without segment 3 the backup itself is not consistent.
	delete(idx.Segments[1], 3)
	if w := idx.Window(m, 1); w.Restorable || w.Problem == "" {
		t.Fatalf("missing segment not reported: %+v", w)
	}
	// A timeline that forked before the backup is not reachable.
	idx.Histories[3] = []HistoryEntry{{Parent: 1, Switch: 0x1000000}}
	if w := idx.Window(m, 3); w.Restorable || w.Problem == "" {
		t.Fatalf("unreachable timeline: %+v", w)
	}
}

// addPartial records a .partial of plain bytes for segment no of tli.
func addPartial(idx *WALIndex, tli uint32, no uint64, plain int64, mod time.Time) {
	if idx.Partials == nil {
		idx.Partials = map[uint32]map[uint64]WALObject{}
	}
	name, _ := pg.ParseWALName(pg.SegmentName(tli, no, seg) + ".partial")
	addSeg(idx.Partials, WALObject{Name: name, ModTime: mod, Plain: plain}, seg)
}

// The streaming receiver's .partial at the end of the archive extends the
// window by the WAL it holds (archive-get hands it out), but only on the
// timeline recovery asks for first, and never past a timeline's end.
func TestReachIntoPartial(t *testing.T) {
	idx := testIndex(map[uint32][]uint64{1: {2, 3, 4}}, map[uint32][]HistoryEntry{})
	m := &Manifest{Label: "b", Timeline: 1, StartLSN: "0/2000028", StopLSN: "0/3000100", StopTime: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
	mod := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	addPartial(idx, 1, 5, 0x123456, mod)
	if w := idx.Window(m, 1); !w.Restorable || w.EndLSN != 5*seg+0x123456 || !w.EndTime.Equal(mod) {
		t.Fatalf("window with a partial of segment 5: %+v, want the end at %s, %v", w, pg.LSN(5*seg+0x123456), mod)
	}
	// A partial that does not follow the last segment is beyond a gap.
	idx.Partials = nil
	addPartial(idx, 1, 6, 0x123456, mod)
	if w := idx.Window(m, 1); w.EndLSN != 5*seg {
		t.Fatalf("partial after a gap counted: %+v", w)
	}
	// A partial whose trailer could not be read counts for nothing.
	idx.Partials = nil
	addPartial(idx, 1, 5, 0, mod)
	if w := idx.Window(m, 1); w.EndLSN != 5*seg {
		t.Fatalf("unreadable partial counted: %+v", w)
	}
	// Backup stopped inside the partial: restorable from it.
	addPartial(idx, 1, 5, 0x100, mod)
	mp := &Manifest{Label: "p", Timeline: 1, StartLSN: "0/4000028", StopLSN: "0/5000080", StopTime: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
	if w := idx.Window(mp, 1); !w.Restorable {
		t.Fatalf("backup whose stop is in the partial: %+v", w)
	}

	// Timeline 2 forked at 0/5800000: segment 5 is asked for on timeline 2
	// first, so timeline 1's partial of it does not count towards 2, but
	// does towards 1; timeline 2's does, from the segment's start.
	idx.Partials = nil
	idx.Histories[2] = []HistoryEntry{{Parent: 1, Switch: 0x5800000}}
	addPartial(idx, 1, 5, 0x900000, mod)
	if w := idx.Window(m, 2); w.EndLSN != 5*seg {
		t.Fatalf("timeline 1's partial counted towards timeline 2: %+v", w)
	}
	if w := idx.Window(m, 1); w.EndLSN != 5*seg+0x900000 {
		t.Fatalf("timeline 1's partial towards timeline 1: %+v", w)
	}
	addPartial(idx, 2, 5, 0xA00000, mod.Add(time.Second))
	if w := idx.Window(m, 2); w.EndLSN != 5*seg+0xA00000 || !w.EndTime.Equal(mod.Add(time.Second)) {
		t.Fatalf("timeline 2's partial: %+v", w)
	}
	// Towards timeline 3, which left timeline 1 at 0/5400000 and has no
	// partial, timeline 1's does not count either.
	idx.Histories[3] = []HistoryEntry{{Parent: 1, Switch: 0x5400000}}
	delete(idx.Partials, 2)
	if w := idx.Window(m, 3); w.EndLSN != 5*seg {
		t.Fatalf("towards timeline 3: %+v", w)
	}
}

func TestParseHistory(t *testing.T) {
	h, err := ParseHistory([]byte("1\t0/5800000\tno recovery target specified\n\n2\t1/0\tat restore point \"x\"\n"))
	if err != nil || len(h) != 2 || h[1].Parent != 2 || h[1].Switch != 0x100000000 {
		t.Fatalf("%+v %v", h, err)
	}
	if _, err := ParseHistory([]byte("x y\n")); err == nil {
		t.Fatal("bad history accepted")
	}
}

func TestLabels(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 15, 0, 0, time.UTC)
	full := NewLabel(BackupFull, "", at)
	incr := NewLabel(BackupIncr, full, at.Add(time.Hour))
	if full != "20261122-101500F" || incr != "20261122-101500F_20261122-111500I" || !ValidLabel(full) || !ValidLabel(incr) {
		t.Fatalf("%s %s", full, incr)
	}
	if ValidLabel("20261122-101500X") || ValidLabel("../x") {
		t.Fatal("bad label accepted")
	}
}

// IndexWAL reads each .partial's length from its trailer, with and without
// encryption; a partial whose trailer is unreadable has none.
func TestIndexWALPartialLength(t *testing.T) {
	ctx := t.Context()
	for _, pass := range []string{"", "secret"} {
		mem := memory.New()
		o := Options{Storage: mem}
		if pass != "" {
			o.CipherPass = []byte(pass)
		}
		r, err := Init(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		c := &ClusterInfo{Name: "c1", WALSegmentSize: seg}
		plain := walLike(3<<20 + 777)
		g := r.NewGrowingFile(walKey(c.Name, pg.SegmentName(1, 5, seg)+".partial"))
		if _, err := g.Put(ctx, bytes.NewReader(plain), int64(len(plain))); err != nil {
			t.Fatal(err)
		}
		broken := walKey(c.Name, pg.SegmentName(2, 5, seg)+".partial")
		if err := mem.Put(ctx, broken, bytes.NewReader(make([]byte, 100)), 100, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		idx, err := r.IndexWAL(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if got := idx.Partials[1][5].Plain; got != int64(len(plain)) {
			t.Errorf("encrypted %v: partial's length %d, want %d", pass != "", got, len(plain))
		}
		if p, ok := idx.Partials[2][5]; !ok || p.Plain != 0 {
			t.Errorf("encrypted %v: unreadable partial indexed as %+v, %v; want listed with no length", pass != "", p, ok)
		}
	}
}

// The window ends at the last commit the last objects of the path hold,
// newest first, each read only up to where recovery leaves it; without
// one in the last four, at the archive time; never before its start.
func TestReachLastCommit(t *testing.T) {
	idx := testIndex(map[uint32][]uint64{1: {2, 3, 4, 5, 6, 7, 8, 9, 10}}, map[uint32][]HistoryEntry{})
	stop := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	m := &Manifest{Label: "b", Timeline: 1, StartLSN: "0/2000028", StopLSN: "0/3000100", StopTime: stop}
	commits := map[string]time.Time{} // segment name -> its last commit
	var asked []string
	limits := map[string]pg.LSN{}
	idx.lastXact = func(o WALObject, start, limit pg.LSN) (time.Time, bool) {
		asked = append(asked, o.Name.Name)
		limits[o.Name.Name] = limit
		if start != o.Name.StartLSN(seg) {
			t.Errorf("%s read from %s", o.Name.Name, start)
		}
		c, ok := commits[o.Name.Name]
		return c, ok
	}
	c8 := time.Date(2026, 11, 22, 10, 8, 30, 0, time.UTC)
	commits[pg.SegmentName(1, 8, seg)] = c8
	if w := idx.Window(m, 1); !w.EndTime.Equal(c8) || !w.EndIsLastCommit || len(asked) != 3 {
		t.Fatalf("end time %v after reading %v; want segment 8's last commit %v, read after 10 and 9", w.EndTime, asked, c8)
	}

	asked, commits = nil, map[string]time.Time{pg.SegmentName(1, 5, seg): c8}
	if w := idx.Window(m, 1); !w.EndTime.Equal(idx.Segments[1][10].ModTime) || w.EndIsLastCommit || len(asked) != tailPieces {
		t.Fatalf("no commit in the last %d segments: end %v after reading %v; want the archive time", tailPieces, w.EndTime, asked)
	}

	asked, commits = nil, map[string]time.Time{pg.SegmentName(1, 10, seg): stop.Add(-time.Hour)}
	if w := idx.Window(m, 1); !w.EndTime.Equal(stop) || w.Contains(stop, 0) {
		t.Fatalf("last commit before the backup's end: window %v; want an empty one at %v", w, stop)
	}

	// Towards timeline 2, which left timeline 1 at 0/5800000 and has no
	// segment 5 or later: recovery reads timeline 1's segment 5 up to the
	// switch and no further.
	asked, commits = nil, map[string]time.Time{}
	idx.Histories[2] = []HistoryEntry{{Parent: 1, Switch: 0x5800000}}
	idx.Window(m, 2)
	if l := limits[pg.SegmentName(1, 5, seg)]; l != 0x5800000 {
		t.Fatalf("segment 5 towards timeline 2 read up to %s; want the switch point 0/5800000 (read %v)", l, asked)
	}
}

// A backup's stop time has nanoseconds, PostgreSQL times have microseconds:
// the window starts at the stop time rounded up, so that the start as
// PostgreSQL prints it is a target inside the window.
func TestWindowStartIsPrintable(t *testing.T) {
	idx := testIndex(map[uint32][]uint64{1: {2, 3, 4}}, nil)
	stop := time.Date(2026, 11, 22, 9, 0, 0, 123456789, time.UTC)
	m := &Manifest{Label: "b", Timeline: 1, StartLSN: "0/2000028", StopLSN: "0/3000100", StopTime: stop}
	w := idx.Window(m, 0)
	printed, err := time.Parse(windowTime, w.StartTime.Format(windowTime))
	if err != nil {
		t.Fatal(err)
	}
	if printed.Before(stop) || !w.Contains(printed, 0) {
		t.Fatalf("window %s: its printed start %s is before the backup's stop %s or outside the window", w, printed.Format(time.RFC3339Nano), stop.Format(time.RFC3339Nano))
	}
	if w.Contains(stop.Add(-time.Microsecond), 0) {
		t.Fatalf("window %s contains a time before the backup's stop", w)
	}
	m.StopTime = stop.Truncate(time.Microsecond)
	if w := idx.Window(m, 0); !w.StartTime.Equal(m.StopTime) {
		t.Fatalf("a stop time of whole microseconds %s became %s", m.StopTime.Format(time.RFC3339Nano), w.StartTime.Format(time.RFC3339Nano))
	}
}

// walKey is the key of WAL file name of the first generation of cluster.
func walKey(cluster, name string) string { return (&ClusterInfo{Name: cluster}).WALKey(name) }
