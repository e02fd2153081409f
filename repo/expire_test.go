package repo

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
)

// Labels of the test backup history; the full of each diff/incr is its prefix.
const (
	f1 = "20261101-000000F"
	d1 = f1 + "_20261102-000000D"
	i1 = f1 + "_20261102-060000I"
	f2 = "20261105-000000F"
	d2 = f2 + "_20261106-000000D"
	i2 = f2 + "_20261106-060000I"
	d3 = f2 + "_20261107-000000D"
	f3 = "20261110-000000F"
	i3 = f3 + "_20261110-060000I"
)

// planManifest makes a manifest for planning: typed by its label's last
// letter, stopped at the label's (last) timestamp.
func planManifest(label, parent string, chain ...string) *Manifest {
	stamp := label[len(label)-16 : len(label)-1]
	stop, err := time.Parse("20060102-150405", stamp)
	if err != nil {
		panic(err)
	}
	typ := map[byte]string{'F': BackupFull, 'D': BackupDiff, 'I': BackupIncr}[label[len(label)-1]]
	return &Manifest{Label: label, Type: typ, Parent: parent, Chain: chain, StopTime: stop}
}

func history() []*Manifest {
	return []*Manifest{
		planManifest(f1, ""),
		planManifest(d1, f1, f1),
		planManifest(i1, d1, f1, d1),
		planManifest(f2, ""),
		planManifest(d2, f2, f2),
		planManifest(i2, d2, f2, d2),
		planManifest(d3, f2, f2),
		planManifest(f3, ""),
		planManifest(i3, f3, f3),
	}
}

func TestPlanExpire(t *testing.T) {
	now := time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		ret    Retention
		remove []string
	}{
		{"two fulls", Retention{Full: 2}, []string{f1, d1, i1}},
		{"one full", Retention{Full: 1}, []string{f1, d1, i1, f2, d2, i2, d3}},
		{"more fulls than exist", Retention{Full: 5}, nil},
		{"one diff", Retention{Diff: 1}, []string{d1, i1, d2, i2}},
		{"two diffs", Retention{Diff: 2}, []string{d1, i1}},
		// Restoring to Nov 8 needs d3 (stopped Nov 7) and so f2; d2 and i2 are older.
		{"four days", Retention{Days: 4}, []string{f1, d1, i1, d2, i2}},
		{"days before every backup", Retention{Days: 30}, nil},
		{"days after every backup", Retention{Days: 1}, []string{f1, d1, i1, f2, d2, i2, d3}},
		// Days is a floor under the count rules.
		{"one full within four days", Retention{Full: 1, Days: 4}, []string{f1, d1, i1, d2, i2}},
		{"two fulls and one diff", Retention{Full: 2, Diff: 1}, []string{f1, d1, i1, d2, i2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := PlanExpire(history(), tc.ret, now)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range plan.Remove {
				got = append(got, b.Label)
				if b.Reason == "" {
					t.Errorf("%s: no reason", b.Label)
				}
			}
			want := sorted(tc.remove)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("remove %v, want %v", got, want)
			}
			if len(plan.Keep)+len(plan.Remove) != len(history()) {
				t.Fatalf("keep %d + remove %d", len(plan.Keep), len(plan.Remove))
			}
		})
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestPlanExpireKeepsWhatKeptBackupsReference(t *testing.T) {
	now := time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)
	// An incr of f3 whose manifest names no chain but holds a part stored
	// in f2's bundle: f2 must stay although the full rule expires it.
	odd := planManifest(i3, f3)
	odd.Files = []File{{Path: "base/1/2", Parts: []Part{{Label: f2}}}}
	ms := []*Manifest{planManifest(f1, ""), planManifest(f2, ""), planManifest(f3, ""), odd}
	plan, err := PlanExpire(ms, Retention{Full: 1}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Remove) != 1 || plan.Remove[0].Label != f1 {
		t.Fatalf("remove %+v", plan.Remove)
	}
	for _, ret := range []Retention{{}, {Full: -1}} {
		if _, err := PlanExpire(ms, ret, now); err == nil {
			t.Fatalf("retention %+v accepted", ret)
		}
	}
	if _, err := PlanExpire(ms, Retention{}, now); !errors.Is(err, ErrNoRetention) {
		t.Fatalf("no retention: %v", err)
	}
}

// walIndex builds an index of segments and other WAL files by name.
func walIndex(t *testing.T, names ...string) *WALIndex {
	t.Helper()
	idx := &WALIndex{SegSize: seg, Segments: map[uint32]map[uint64]WALObject{},
		Partials: map[uint32]map[uint64]WALObject{}, Histories: map[uint32][]HistoryEntry{}}
	for _, n := range names {
		w, err := pg.ParseWALName(n)
		if err != nil {
			t.Fatal(err)
		}
		o := WALObject{Key: walKey("c", n), Name: w, Size: 100}
		switch w.Kind {
		case pg.KindSegment:
			addSeg(idx.Segments, o, seg)
		case pg.KindPartial:
			addSeg(idx.Partials, o, seg)
		case pg.KindHistory:
			idx.Histories[w.Timeline] = nil
		default:
			idx.Other = append(idx.Other, o)
		}
	}
	return idx
}

func segName(tli uint32, no uint64) string { return pg.SegmentName(tli, no, seg) }

func TestPlanWALExpire(t *testing.T) {
	var names []string
	for no := uint64(1); no <= 10; no++ {
		names = append(names, segName(1, no))
	}
	for no := uint64(6); no <= 12; no++ {
		names = append(names, segName(2, no))
	}
	names = append(names, "00000002.history", segName(1, 3)+".00000028.backup",
		segName(1, 5)+".00000028.backup", segName(1, 4)+".partial", segName(2, 13)+".partial")
	idx := walIndex(t, names...)
	onTL := func(tli uint32, lsn string) *Manifest {
		return &Manifest{Label: "b" + lsn, Timeline: tli, StartLSN: lsn}
	}
	for _, tc := range []struct {
		name string
		keep []*Manifest
		want []string
	}{
		{"no kept backup", nil, nil},
		{"oldest on timeline 1", []*Manifest{onTL(2, "0/8000028"), onTL(1, "0/5000028")}, []string{
			segName(1, 1), segName(1, 2), segName(1, 3), segName(1, 3) + ".00000028.backup",
			segName(1, 4), segName(1, 4) + ".partial"}},
		{"oldest on timeline 2", []*Manifest{onTL(2, "0/7000028")}, []string{
			segName(1, 1), segName(1, 2), segName(1, 3), segName(1, 3) + ".00000028.backup",
			segName(1, 4), segName(1, 4) + ".partial", segName(1, 5), segName(1, 5) + ".00000028.backup",
			segName(1, 6), segName(2, 6)}},
		{"start in the first segment", []*Manifest{onTL(1, "0/1000028")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := PlanWALExpire(idx, tc.keep)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var bytes int64
			for _, o := range e.Objects {
				got = append(got, o.Name.Name)
				bytes += o.Size
			}
			if !reflect.DeepEqual(got, sorted(tc.want)) || e.Count != len(tc.want) || e.Bytes != bytes {
				t.Fatalf("got %v (%d, %d bytes), want %v", got, e.Count, e.Bytes, tc.want)
			}
			if e.Count > 0 && (e.First != got[0] || e.Last != got[len(got)-1]) {
				t.Fatalf("first/last %s %s", e.First, e.Last)
			}
		})
	}
	if _, err := PlanWALExpire(idx, []*Manifest{{Label: "x", StartLSN: "bad"}}); err == nil {
		t.Fatal("bad start LSN accepted")
	}
}

// removeLog records the order of removals.
type removeLog struct {
	storage.Storage
	mu      sync.Mutex
	removed []string
}

func (s *removeLog) Remove(ctx context.Context, key string) error {
	s.mu.Lock()
	s.removed = append(s.removed, key)
	s.mu.Unlock()
	return s.Storage.Remove(ctx, key)
}

func (s *removeLog) index(key string) int {
	for i, k := range s.removed {
		if k == key {
			return i
		}
	}
	return -1
}

const testSegSize = 1 << 20 // the smallest segment PostgreSQL allows

// testBackup writes a small backup of label with one bundle holding files,
// starting in segment startSeg on timeline 1, and returns its manifest.
// inherit are files of earlier backups it references unchanged.
func testBackup(t *testing.T, r *Repo, label, parent string, startSeg uint64, files map[string]string, inherit ...File) *Manifest {
	t.Helper()
	return testBackupOf(t, r, 1, label, parent, startSeg, files, inherit...)
}

// testBackupOf is testBackup of system identifier sysid.
func testBackupOf(t *testing.T, r *Repo, sysid uint64, label, parent string, startSeg uint64, files map[string]string, inherit ...File) *Manifest {
	t.Helper()
	ctx := context.Background()
	m := planManifest(label, parent)
	if parent != "" {
		m.Chain = []string{parent}
	}
	m.Cluster, m.SystemID, m.Timeline, m.WALSegmentSize = "c", sysid, 1, testSegSize
	m.StartLSN = pg.LSN(startSeg*testSegSize + 0x28).String()
	m.StopLSN = pg.LSN(startSeg*testSegSize + 0x100).String()
	m.StartWAL = pg.SegmentName(1, startSeg, testSegSize)
	m.StopWAL = m.StartWAL
	m.StartTime = m.StopTime.Add(-time.Minute)
	b := r.NewBundleWriter(ctx, "c", label, 0)
	for _, path := range sortedKeys(files) {
		p, err := b.Add([]byte(files[path]))
		if err != nil {
			t.Fatal(err)
		}
		m.Files = append(m.Files, File{Path: path, Size: p.Size, Parts: []Part{p}})
		m.Size += p.Size
	}
	m.StoredSize, m.Bundles = b.Size(), 1
	m.Files = append(m.Files, inherit...)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// testCluster registers cluster "c" with 1 MiB segments.
func testCluster(t *testing.T, r *Repo) *ClusterInfo {
	t.Helper()
	c, _, err := r.CreateCluster(context.Background(), ClusterInfo{Name: "c", SystemID: 1, PGVersion: 15, WALSegmentSize: testSegSize})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// putWAL archives segments first..last of timeline 1 (plain size one segment).
func putWAL(t *testing.T, r *Repo, first, last uint64) {
	t.Helper()
	putWALOf(t, r, &ClusterInfo{Name: "c"}, first, last)
}

// putWALOf is putWAL into the archive of generation g.
func putWALOf(t *testing.T, r *Repo, g *ClusterInfo, first, last uint64) {
	t.Helper()
	for no := first; no <= last; no++ {
		name := pg.SegmentName(1, no, testSegSize)
		data := make([]byte, testSegSize)
		copy(data, name)
		if _, _, err := r.PutObject(context.Background(), g.WALKey(name), data, true); err != nil {
			t.Fatal(err)
		}
	}
}

func TestExpire(t *testing.T) {
	ctx := context.Background()
	log := &removeLog{Storage: memory.New()}
	r, err := Init(ctx, Options{Storage: log})
	if err != nil {
		t.Fatal(err)
	}
	c := testCluster(t, r)
	testBackup(t, r, f1, "", 2, map[string]string{"PG_VERSION": "15", "base/1/1": "one"})
	testBackup(t, r, d1, f1, 4, map[string]string{"base/1/1": "one'"})
	testBackup(t, r, f2, "", 6, map[string]string{"PG_VERSION": "15", "base/1/1": "two"})
	putWAL(t, r, 1, 8)
	if _, _, err := r.PutObject(ctx, walKey("c", "00000002.history"), []byte("1\t0/9000000\tx\n"), true); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)

	dry, err := r.Expire(ctx, c, Retention{Full: 1}, ExpireOptions{DryRun: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Backups) != 2 || dry.Backups[0].Label != f1 || dry.Backups[1].Label != d1 || dry.WAL.Count != 5 ||
		dry.WAL.First != pg.SegmentName(1, 1, testSegSize) || dry.WAL.Last != pg.SegmentName(1, 5, testSegSize) ||
		!reflect.DeepEqual(dry.Kept, []string{f2}) {
		t.Fatalf("dry run: %+v", dry)
	}
	if len(log.removed) != 0 {
		t.Fatalf("dry run removed %v", log.removed)
	}

	// Held by a backup: expire refuses.
	l, err := r.Lock(ctx, "c", "backup", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Expire(ctx, c, Retention{Full: 1}, ExpireOptions{Now: now}); !errors.Is(err, ErrLocked) {
		t.Fatalf("expire under a backup's lock: %v", err)
	}
	l.Release(ctx)

	res, err := r.Expire(ctx, c, Retention{Full: 1}, ExpireOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Backups, dry.Backups) || res.WAL.Count != 5 {
		t.Fatalf("expire: %+v", res)
	}
	if labels, err := r.Backups(ctx, "c"); err != nil || !reflect.DeepEqual(labels, []string{f2}) {
		t.Fatalf("backups left: %v %v", labels, err)
	}
	left := map[string]bool{}
	r.Storage().List(ctx, "c/", func(info storage.ObjectInfo) error { left[info.Key] = true; return nil })
	for _, gone := range []string{BundleKey("c", f1, 0), BundleKey("c", d1, 0), walKey("c", pg.SegmentName(1, 5, testSegSize))} {
		if left[gone] {
			t.Errorf("%s not removed", gone)
		}
	}
	for _, kept := range []string{BundleKey("c", f2, 0), walKey("c", pg.SegmentName(1, 6, testSegSize)), walKey("c", "00000002.history")} {
		if !left[kept] {
			t.Errorf("%s removed", kept)
		}
	}
	// Manifests before bundles; the diff before the full it depends on.
	order := []string{ManifestKey("c", d1), BundleKey("c", d1, 0), ManifestKey("c", f1), BundleKey("c", f1, 0)}
	for i := 1; i < len(order); i++ {
		if a, b := log.index(order[i-1]), log.index(order[i]); a < 0 || b < 0 || a > b {
			t.Fatalf("removal order %v", log.removed)
		}
	}
	if _, err := r.Storage().Stat(ctx, LockKey("c")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("lock left behind: %v", err)
	}
	// Expiring again finds nothing to do.
	again, err := r.Expire(ctx, c, Retention{Full: 1}, ExpireOptions{Now: now})
	if err != nil || len(again.Backups) != 0 || again.WAL.Count != 0 {
		t.Fatalf("second expire: %+v %v", again, err)
	}
}

func TestExpireWithoutBackupsKeepsWAL(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	c := testCluster(t, r)
	putWAL(t, r, 1, 3)
	res, err := r.Expire(ctx, c, Retention{Days: 1}, ExpireOptions{})
	if err != nil || res.WAL.Count != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := r.Expire(ctx, c, Retention{}, ExpireOptions{}); !errors.Is(err, ErrNoRetention) {
		t.Fatalf("no retention: %v", err)
	}
	var n int
	r.Storage().List(ctx, (&ClusterInfo{Name: "c"}).WALPrefix(), func(storage.ObjectInfo) error { n++; return nil })
	if n != 3 {
		t.Fatalf("%d WAL objects left", n)
	}
}
