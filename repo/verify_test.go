package repo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
	"github.com/pgkeep/pgkeep/repo/storage/posix"
)

func TestWALGaps(t *testing.T) {
	hist := map[uint32][]HistoryEntry{2: {{Parent: 1, Switch: 6*seg + 0x100}}}
	for _, tc := range []struct {
		name     string
		segs     map[uint32][]uint64
		from     uint64
		haveFrom bool
		want     []string
	}{
		{"gapless", map[uint32][]uint64{1: {2, 3, 4}}, 2, true, nil},
		{"inside", map[uint32][]uint64{1: {2, 3, 6, 7, 9}}, 2, true, []string{"1:4-5", "1:8-8"}},
		{"before the first archived segment", map[uint32][]uint64{1: {4, 5}}, 2, true, []string{"1:2-3"}},
		{"before the oldest backup does not matter", map[uint32][]uint64{1: {1, 4, 5}}, 4, true, nil},
		{"no backup: within the archive", map[uint32][]uint64{1: {1, 4}}, 0, false, []string{"1:2-3"}},
		// Timeline 2 begins in segment 6; its missing 8 is a gap, segments
		// before 6 are timeline 1's business.
		{"timelines", map[uint32][]uint64{1: {2, 3, 4, 5, 6}, 2: {6, 7, 9}}, 2, true, []string{"2:8-8"}},
		{"timeline without history", map[uint32][]uint64{3: {7, 9}}, 2, true, []string{"3:8-8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, g := range WALGaps(testIndex(tc.segs, hist), tc.from, tc.haveFrom) {
				first, _ := pg.ParseWALName(g.First)
				last, _ := pg.ParseWALName(g.Last)
				if g.Count != last.SegNo(seg)-first.SegNo(seg)+1 || !strings.Contains(g.String(), g.First) {
					t.Errorf("gap %+v", g)
				}
				got = append(got, fmt.Sprintf("%d:%d-%d", g.Timeline, first.SegNo(seg), last.SegNo(seg)))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("gaps %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRecoveryWindows(t *testing.T) {
	// Timeline 2 forked from 1 at 0/5800000; a gap at 8 on timeline 2.
	idx := testIndex(map[uint32][]uint64{1: {2, 3, 4, 5, 6}, 2: {5, 6, 7, 9}},
		map[uint32][]HistoryEntry{2: {{Parent: 1, Switch: 0x5800000}}})
	old := &Manifest{Label: "a", Timeline: 1, StartLSN: "0/2000028", StopLSN: "0/2000100", StopTime: time.Unix(100, 0)}
	newer := &Manifest{Label: "b", Timeline: 1, StartLSN: "0/3000028", StopLSN: "0/3000100", StopTime: time.Unix(200, 0)}
	broken := &Manifest{Label: "0", Timeline: 1, StartLSN: "0/1000028", StopLSN: "0/1000100"} // segment 1 is missing
	ws := RecoveryWindows(idx, []*Manifest{broken, old, newer})
	if len(ws) != 2 {
		t.Fatalf("windows %+v", ws)
	}
	if w := ws[0]; w.Timeline != 1 || w.Oldest != "a" || w.StartLSN != 0x2000100 || w.EndLSN != 7*seg || !w.StartTime.Equal(old.StopTime) {
		t.Fatalf("timeline 1: %+v", w)
	}
	if w := ws[1]; w.Timeline != 2 || w.Oldest != "a" || w.EndLSN != 8*seg || w.EndTime != idx.Segments[2][7].ModTime {
		t.Fatalf("timeline 2: %+v", w)
	}
}

func TestProblemString(t *testing.T) {
	p := Problem{Severity: SeverityError, Label: "L", File: "base/1/2", Key: "k", Message: "k@3: corrupt"}
	if got := p.String(); got != "error: backup L: file base/1/2: k@3: corrupt" {
		t.Fatal(got)
	}
	if got := (Problem{Severity: SeverityNotice, Message: "m"}).String(); got != "notice: m" {
		t.Fatal(got)
	}
}

// flipByte damages the file at path at offset.
func flipByte(t *testing.T, path string, offset int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[offset] ^= 0x40
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyPosix(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, err := posix.New(root)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Init(ctx, Options{Storage: s, Compression: CompressZstd})
	if err != nil {
		t.Fatal(err)
	}
	c := testCluster(t, r)
	full := testBackup(t, r, f1, "", 2, map[string]string{
		"PG_VERSION": "15\n", "base/1/1": strings.Repeat("relation one ", 1000), "base/1/2": "two"})
	var unchanged File
	for _, f := range full.Files {
		if f.Path == "base/1/1" {
			unchanged = f
		}
	}
	testBackup(t, r, d1, f1, 4, map[string]string{"base/1/2": "two, changed"}, unchanged)
	putWAL(t, r, 1, 8)

	rep, err := r.Verify(ctx, c, VerifyOptions{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 || rep.Notices != 0 || rep.Backups != 2 || rep.Files != 5 || rep.Parts != 4 || rep.WALObjects != 8 {
		t.Fatalf("clean repository: %+v", rep)
	}

	// Damage: one byte of base/1/1's part in f1's bundle (d1 shares the
	// part), a WAL segment's bytes, two segments gone (d1's start and one
	// in the middle), an interrupted backup and an unknown object.
	p := unchanged.Parts[0]
	flipByte(t, filepath.Join(root, BundleKey("c", f1, 0)), p.BOffset+p.BLength/2)
	seg7 := walKey("c", pg.SegmentName(1, 7, testSegSize))
	info, _ := s.Stat(ctx, seg7)
	flipByte(t, filepath.Join(root, seg7), info.Size/2)
	for _, no := range []uint64{4, 6} {
		if err := s.Remove(ctx, walKey("c", pg.SegmentName(1, no, testSegSize))); err != nil {
			t.Fatal(err)
		}
	}
	b := r.NewBundleWriter(ctx, "c", f2, 0)
	b.Add([]byte("half a backup"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "c/backup/junk", bytes.NewReader([]byte("x")), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	rep, err = r.Verify(ctx, c, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, p := range rep.Problems {
		lines = append(lines, p.String())
	}
	text := strings.Join(lines, "\n")
	bundle := BundleKey("c", f1, 0)
	for _, want := range []string{
		"error: backup " + f1 + ": file base/1/1: " + bundle,
		"error: backup " + d1 + ": file base/1/1: " + bundle,
		"error: backup " + d1 + ": not restorable: its WAL " + pg.SegmentName(1, 4, testSegSize),
		"error: read " + seg7,
		"error: WAL gap on timeline 1: " + pg.SegmentName(1, 4, testSegSize) + ".." + pg.SegmentName(1, 4, testSegSize) + " missing (1 segment)",
		"error: WAL gap on timeline 1: " + pg.SegmentName(1, 6, testSegSize) + ".." + pg.SegmentName(1, 6, testSegSize) + " missing (1 segment)",
		"notice: backup " + f2 + ": 1 bundles",
		"notice: unknown object c/backup/junk",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in\n%s", want, text)
		}
	}
	if rep.Errors != 6 || rep.Notices != 2 {
		t.Fatalf("%d errors, %d notices:\n%s", rep.Errors, rep.Notices, text)
	}
	if strings.Contains(text, "base/1/2") || strings.Contains(text, "PG_VERSION") {
		t.Fatalf("undamaged files reported:\n%s", text)
	}

	// A missing bundle and an unreadable manifest are reported, not fatal.
	if err := s.Remove(ctx, BundleKey("c", d1, 0)); err != nil {
		t.Fatal(err)
	}
	flipByte(t, filepath.Join(root, ManifestKey("c", f1)), 20)
	rep, err = r.Verify(ctx, c, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lines = lines[:0]
	for _, p := range rep.Problems {
		lines = append(lines, p.String())
	}
	text = strings.Join(lines, "\n")
	for _, want := range []string{
		"error: backup " + f1 + ": manifest of " + f1 + ": read " + ManifestKey("c", f1) + ": corrupt object",
		"error: backup " + d1 + ": bundle " + BundleKey("c", d1, 0) + " is missing: 1 files cannot be restored (base/1/2)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in\n%s", want, text)
		}
	}
}

// A part that a backup of an earlier version (no XXH3 in its manifest) and
// a newer one (with it) both reference is read once, and checked against
// the recorded sum; a manifest whose sum disagrees with the others' has the
// part read again and is the one reported.
func TestVerifyPartSums(t *testing.T) {
	ctx := context.Background()
	r, err := Init(ctx, Options{Storage: memory.New(), Compression: CompressZstd})
	if err != nil {
		t.Fatal(err)
	}
	c := testCluster(t, r)
	full := testBackup(t, r, f1, "", 2, map[string]string{"base/1/1": strings.Repeat("relation one ", 1000), "base/1/2": "two"})
	old := full.Files[0] // base/1/1 as an earlier version's manifest records it
	if old.Path != "base/1/1" || old.Parts[0].Quick.IsZero() {
		t.Fatalf("unexpected first file %+v", old)
	}
	old.Parts = slices.Clone(old.Parts)
	old.Parts[0].Quick = QuickSum{}
	testBackup(t, r, d1, f1, 4, map[string]string{"base/1/2": "two, changed"}, old)
	putWAL(t, r, 1, 6)

	rep, err := r.Verify(ctx, c, VerifyOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 || rep.Parts != 3 {
		t.Fatalf("%d errors, %d parts read, want 0 and 3 (base/1/1 once for both backups):\n%+v", rep.Errors, rep.Parts, rep.Problems)
	}

	bad := full.Files[0]
	bad.Parts = slices.Clone(bad.Parts)
	bad.Parts[0].Quick[0] ^= 1
	testBackup(t, r, i1, f1, 5, map[string]string{"base/1/2": "two, changed again"}, bad)
	rep, err = r.Verify(ctx, c, VerifyOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 1 || rep.Parts != 5 || len(rep.Problems) != 1 || rep.Problems[0].Label != i1 || rep.Problems[0].File != "base/1/1" {
		t.Fatalf("a wrong XXH3 in %s: %d errors, %d parts read, want 1 error (%s, base/1/1) and 5 parts:\n%+v", i1, rep.Errors, rep.Parts, i1, rep.Problems)
	}
}
