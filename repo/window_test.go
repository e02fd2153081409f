package repo

import (
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg"
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
	m := &Manifest{Label: "b", Timeline: 1, StartLSN: "0/2000028", StopLSN: "0/3000100", StopTime: time.Now()}

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
