package restore

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
)

const segSize = 16 << 20

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// synthIndex is an archive whose segment n of each timeline was archived
// at t0 + n minutes.
func synthIndex(segs map[uint32][]uint64, hist map[uint32][]repo.HistoryEntry) *repo.WALIndex {
	idx := &repo.WALIndex{SegSize: segSize, Segments: map[uint32]map[uint64]repo.WALObject{}, Histories: hist}
	if idx.Histories == nil {
		idx.Histories = map[uint32][]repo.HistoryEntry{}
	}
	for tli, nos := range segs {
		idx.Segments[tli] = map[uint64]repo.WALObject{}
		for _, no := range nos {
			name, _ := pg.ParseWALName(pg.SegmentName(tli, no, segSize))
			idx.Segments[tli][no] = repo.WALObject{Name: name, ModTime: t0.Add(time.Duration(no) * time.Minute)}
		}
	}
	return idx
}

// synthBackup is a backup of timeline tli from segment startSeg to
// stopSeg, which stopped at t0 + stopSeg minutes - 30 s.
func synthBackup(label string, tli uint32, startSeg, stopSeg uint64) *repo.Manifest {
	return &repo.Manifest{Label: label, Type: repo.BackupFull, Timeline: tli,
		StartLSN:  pg.LSN(startSeg*segSize + 0x28).String(),
		StopLSN:   pg.LSN(stopSeg*segSize + 0x100).String(),
		StartTime: t0.Add(time.Duration(startSeg)*time.Minute - time.Minute),
		StopTime:  t0.Add(time.Duration(stopSeg)*time.Minute - 30*time.Second)}
}

func mustTarget(t *testing.T, spec TargetSpec) Target {
	t.Helper()
	tg, err := ParseTarget(spec, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestChoose(t *testing.T) {
	// Three backups on timeline 1; WAL 2..9 archived, then 11..12 after a gap.
	// Backup C needs segment 10, which is missing.
	backups := []*repo.Manifest{
		synthBackup("20261122-100100F", 1, 2, 3),
		synthBackup("20261122-100500F", 1, 5, 6),
		synthBackup("20261122-101000F", 1, 10, 10),
	}
	idx := synthIndex(map[uint32][]uint64{1: {2, 3, 4, 5, 6, 7, 8, 9, 11, 12}}, nil)
	at := func(min int, sec int) string {
		return t0.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second).Format(time.RFC3339)
	}
	for _, tc := range []struct {
		name string
		set  string
		spec TargetSpec
		want string // label, or the start of the error
		is   error
	}{
		{"no target: newest restorable", "", TargetSpec{}, "20261122-100500F", nil},
		{"name: newest restorable", "", TargetSpec{Name: "x"}, "20261122-100500F", nil},
		{"time in both windows: newest", "", TargetSpec{Time: at(7, 0)}, "20261122-100500F", nil},
		{"time only in the oldest window", "", TargetSpec{Time: at(4, 0)}, "20261122-100100F", nil},
		{"lsn only in the oldest window", "", TargetSpec{LSN: pg.LSN(4*segSize + 10).String()}, "20261122-100100F", nil},
		{"lsn in the newest window", "", TargetSpec{LSN: pg.LSN(6*segSize + 0x200).String()}, "20261122-100500F", nil},
		{"lsn before the newest consistency", "", TargetSpec{LSN: pg.LSN(6*segSize + 0x10).String()}, "20261122-100100F", nil},
		{"set", "20261122-100100F", TargetSpec{Time: at(8, 59)}, "20261122-100100F", nil},
		{"time at the end: not reached", "20261122-100100F", TargetSpec{Time: at(9, 0)}, "target time 2026-11-22 10:09:00+00 is outside", ErrOutsideWindow},
		{"time before every window", "", TargetSpec{Time: "2026-11-22 09:00:00+00"},
			"target time 2026-11-22 09:00:00+00 is outside the recovery window: " +
				"20261122-100100F: 2026-11-22T10:02:30Z (0/3000100) to 2026-11-22T10:09:00Z (0/A000000) on timeline 1; " +
				"20261122-100500F: 2026-11-22T10:05:30Z (0/6000100) to 2026-11-22T10:09:00Z (0/A000000) on timeline 1", ErrOutsideWindow},
		{"time after the archive", "", TargetSpec{Time: at(11, 0)}, "target time 2026-11-22 10:11:00+00 is outside", ErrOutsideWindow},
		{"lsn before the backup's consistency", "20261122-100500F", TargetSpec{LSN: "0/6000000"},
			"target LSN 0/6000000 is outside the recovery window: 20261122-100500F:", ErrOutsideWindow},
		{"unknown set", "20261122-120000F", TargetSpec{},
			"backup 20261122-120000F not found; backups: 20261122-100100F, 20261122-100500F, 20261122-101000F", repo.ErrNoBackup},
		{"set not restorable", "20261122-101000F", TargetSpec{},
			"backup 20261122-101000F cannot be restored: WAL segment 00000001000000000000000A, needed", ErrNotRestorable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Choose(backups, idx, tc.set, mustTarget(t, tc.spec))
			if tc.is == nil {
				if err != nil || plan.Manifest.Label != tc.want {
					t.Fatalf("plan %+v, err %v; want %s", plan, err, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.is) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err %v\nwant %s... (%v)", err, tc.want, tc.is)
			}
		})
	}
}

func TestChooseNothingRestorable(t *testing.T) {
	backups := []*repo.Manifest{synthBackup("20261122-100100F", 1, 2, 3)}
	idx := synthIndex(map[uint32][]uint64{1: {2}}, nil)
	_, err := Choose(backups, idx, "", mustTarget(t, TargetSpec{Time: "2026-11-22T10:02:00Z"}))
	if !errors.Is(err, ErrNotRestorable) || !strings.Contains(err.Error(), "20261122-100100F: WAL segment 000000010000000000000003") {
		t.Fatalf("%v", err)
	}
	if _, err := Choose(nil, idx, "", Target{}); !errors.Is(err, repo.ErrNoBackup) {
		t.Fatalf("no backups: %v", err)
	}
}

func TestChooseTimelines(t *testing.T) {
	// Timeline 2 forked from 1 at 0/7800000; backups on either side.
	backups := []*repo.Manifest{
		synthBackup("20261122-100100F", 1, 2, 3),
		synthBackup("20261122-100900F", 2, 9, 9),
	}
	idx := synthIndex(map[uint32][]uint64{1: {2, 3, 4, 5, 6, 7}, 2: {7, 8, 9, 10}},
		map[uint32][]repo.HistoryEntry{2: {{Parent: 1, Switch: 0x7800000}}})
	// Latest timeline: the newest backup reaches segment 10.
	if p, err := Choose(backups, idx, "", mustTarget(t, TargetSpec{})); err != nil || p.Manifest.Label != "20261122-100900F" || p.Window.Timeline != 2 {
		t.Fatalf("latest: %+v %v", p, err)
	}
	// A time on timeline 2 before the second backup: the first backup, across the switch.
	p, err := Choose(backups, idx, "", mustTarget(t, TargetSpec{Time: "2026-11-22T10:08:00Z"}))
	if err != nil || p.Manifest.Label != "20261122-100100F" || p.Window.EndLSN != 11*segSize {
		t.Fatalf("across the switch: %+v %v", p, err)
	}
	// Timeline 1 only ("current" of the first backup) ends at segment 7.
	_, err = Choose(backups[:1], idx, "", mustTarget(t, TargetSpec{Time: "2026-11-22T10:09:30Z", Timeline: "current"}))
	if !errors.Is(err, ErrOutsideWindow) || !strings.Contains(err.Error(), "on timeline 1") {
		t.Fatalf("current timeline: %v", err)
	}
	// Timeline 1 cannot lead to the backup on timeline 2.
	_, err = Choose(backups, idx, "20261122-100900F", mustTarget(t, TargetSpec{Timeline: "1"}))
	if !errors.Is(err, ErrNotRestorable) {
		t.Fatalf("timeline 1 for a timeline 2 backup: %v", err)
	}
}
