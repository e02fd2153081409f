package repo

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
)

func TestUpgradeCluster(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	r, err := Init(ctx, Options{Storage: s})
	if err != nil {
		t.Fatal(err)
	}
	c := testCluster(t, r)
	raw, err := storage.ReadAll(ctx, s, clusterKey("c"))
	if err != nil {
		t.Fatal(err)
	}
	// A cluster never upgraded keeps the format of earlier versions.
	if strings.Contains(string(raw), "generation") || strings.Contains(string(raw), "history") {
		t.Fatalf("cluster.json of a first generation:\n%s", raw)
	}
	if c.Gen() != 1 || c.WALPrefix() != "c/wal/" {
		t.Fatalf("first generation %d, WAL prefix %s", c.Gen(), c.WALPrefix())
	}

	up, upgraded, err := r.UpgradeCluster(ctx, ClusterInfo{Name: "c", SystemID: 2, PGVersion: 16, WALSegmentSize: testSegSize})
	if err != nil || !upgraded {
		t.Fatalf("upgrade: %v %v", upgraded, err)
	}
	got, err := r.Cluster(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if got.Gen() != 2 || got.SystemID != 2 || got.PGVersion != 16 || len(got.History) != 1 || up.Gen() != 2 {
		t.Fatalf("after the upgrade: %+v", got)
	}
	gens := got.Generations()
	if len(gens) != 2 || gens[0].SystemID != 1 || gens[0].PGVersion != 15 || gens[0].WALPrefix() != "c/wal/" ||
		gens[1].SystemID != 2 || gens[1].WALPrefix() != "c/wal-2/" {
		t.Fatalf("generations: %+v %+v", gens[0], gens[1])
	}
	if g := got.ForSystem(1); g == nil || g.Gen() != 1 || got.ForSystem(3) != nil {
		t.Fatalf("ForSystem: %+v", g)
	}
	if _, again, err := r.UpgradeCluster(ctx, ClusterInfo{Name: "c", SystemID: 2, PGVersion: 16, WALSegmentSize: testSegSize}); err != nil || again {
		t.Fatalf("the same upgrade again: %v %v", again, err)
	}
	if _, created, err := r.CreateCluster(ctx, ClusterInfo{Name: "c", SystemID: 2, PGVersion: 16}); err != nil || created {
		t.Fatalf("create of the upgraded system: %v %v", created, err)
	}
	_, _, err = r.CreateCluster(ctx, ClusterInfo{Name: "c", SystemID: 1, PGVersion: 15})
	if !errors.Is(err, ErrClusterMismatch) || !strings.Contains(err.Error(), "generation 1") {
		t.Fatalf("create of the system before the upgrade: %v", err)
	}
	_, _, err = r.CreateCluster(ctx, ClusterInfo{Name: "c", SystemID: 9, PGVersion: 16})
	if !errors.Is(err, ErrClusterMismatch) || !strings.Contains(err.Error(), "create --upgrade") {
		t.Fatalf("create of another system says nothing of --upgrade: %v", err)
	}
	for _, bad := range []ClusterInfo{
		{Name: "c", SystemID: 1, PGVersion: 15, WALSegmentSize: testSegSize}, // back to the old system
		{Name: "c", SystemID: 3, PGVersion: 15, WALSegmentSize: testSegSize}, // an older major version
	} {
		if _, _, err := r.UpgradeCluster(ctx, bad); err == nil {
			t.Errorf("upgrade to %+v accepted", bad)
		}
	}
	if after, _ := r.Cluster(ctx, "c"); after.Gen() != 2 || after.SystemID != 2 {
		t.Fatalf("a refused upgrade changed the registration: %+v", after)
	}
	if _, _, err := r.UpgradeCluster(ctx, ClusterInfo{Name: "nope", SystemID: 5, PGVersion: 16}); !errors.Is(err, ErrNoCluster) {
		t.Fatalf("upgrade of an unknown cluster: %v", err)
	}
}

// upgraded builds cluster "c" upgraded once: generation 1 (system 1) with
// backup f1 starting in segment 2 and WAL 1..8 and a history file,
// generation 2 (system 2) with backup f2 starting in segment 20 and WAL
// 20..22.
func upgraded(t *testing.T) (*Repo, *ClusterInfo) {
	t.Helper()
	ctx := context.Background()
	r, err := Init(ctx, Options{Storage: memory.New()})
	if err != nil {
		t.Fatal(err)
	}
	testCluster(t, r)
	testBackupOf(t, r, 1, f1, "", 2, map[string]string{"PG_VERSION": "15\n"})
	putWAL(t, r, 1, 8)
	if _, _, err := r.PutObject(ctx, walKey("c", "00000002.history"), []byte("1\t0/9000000\tx\n"), true); err != nil {
		t.Fatal(err)
	}
	c, _, err := r.UpgradeCluster(ctx, ClusterInfo{Name: "c", SystemID: 2, PGVersion: 16, WALSegmentSize: testSegSize})
	if err != nil {
		t.Fatal(err)
	}
	testBackupOf(t, r, 2, f2, "", 20, map[string]string{"PG_VERSION": "16\n"})
	putWALOf(t, r, c, 20, 22)
	return r, c
}

func TestGenerationsWindowsAndVerify(t *testing.T) {
	ctx := context.Background()
	r, c := upgraded(t)
	a, err := r.IndexArchive(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := r.Manifests(ctx, "c")
	if err != nil || len(ms) != 2 {
		t.Fatalf("manifests: %d %v", len(ms), err)
	}
	old, cur := a.Window(ms[0], 0), a.Window(ms[1], 0)
	if !old.Restorable || old.EndLSN != pg.LSN(9*testSegSize) || old.Timeline != 2 {
		t.Fatalf("window of the backup before the upgrade (its WAL ends with segment 8, where its own timeline 2 began; generation 2's segments 20..22 are not its): %+v", old)
	}
	if !cur.Restorable || cur.EndLSN != pg.LSN(23*testSegSize) {
		t.Fatalf("window of the backup after the upgrade: %+v", cur)
	}
	// Each generation's WAL is the only one a backup can use.
	if w := a.Of(2).Window(ms[0], 0); w.Restorable {
		t.Fatalf("backup of system 1 restorable from system 2's WAL: %+v", w)
	}
	if tw := RecoveryWindows(a.Of(2), ms); len(tw) != 1 || tw[0].Oldest != f2 {
		t.Fatalf("recovery windows of generation 2: %+v", tw)
	}

	rep, err := r.Verify(ctx, c, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 || rep.Notices != 0 || rep.WALObjects != 12 {
		t.Fatalf("verify of a clean upgraded repository: %+v", rep)
	}
	if err := r.Storage().Remove(ctx, c.WALKey(pg.SegmentName(1, 21, testSegSize))); err != nil {
		t.Fatal(err)
	}
	if err := r.Storage().Remove(ctx, walKey("c", pg.SegmentName(1, 5, testSegSize))); err != nil {
		t.Fatal(err)
	}
	rep, err = r.Verify(ctx, c, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, p := range rep.Problems {
		msgs = append(msgs, p.String())
	}
	all := strings.Join(msgs, "\n")
	if rep.Errors != 2 || !strings.Contains(all, "generation 2 (system identifier 2, PostgreSQL 16): WAL gap on timeline 1: 000000010000000000000015") ||
		!strings.Contains(all, "generation 1 (system identifier 1, PostgreSQL 15): WAL gap on timeline 1: 000000010000000000000005") {
		t.Fatalf("verify with a gap in each generation:\n%s", all)
	}
}

func TestExpireEarlierGeneration(t *testing.T) {
	ctx := context.Background()
	r, c := upgraded(t)
	res, err := r.Expire(ctx, c, Retention{Full: 2}, ExpireOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Both backups stay: only generation 1's segment before f1 goes.
	if len(res.Backups) != 0 || res.WAL.Count != 0 || len(res.Earlier) != 1 || res.Earlier[0].WAL.Count != 1 ||
		res.Earlier[0].WAL.First != pg.SegmentName(1, 1, testSegSize) {
		t.Fatalf("retention 2: %+v", res)
	}

	res, err = r.Expire(ctx, c, Retention{Full: 1}, ExpireOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Backups) != 1 || res.Backups[0].Label != f1 || len(res.Earlier) != 1 || res.Earlier[0].WAL.Count != 8 {
		t.Fatalf("retention 1: %+v", res)
	}
	left := map[string]int{}
	err = r.Storage().List(ctx, "c/", func(info storage.ObjectInfo) error {
		dir, _, _ := strings.Cut(strings.TrimPrefix(info.Key, "c/"), "/")
		left[dir]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if left["wal"] != 0 || left["wal-2"] != 3 {
		t.Fatalf("left after expiring generation 1: %v", left)
	}
	rep, err := r.Verify(ctx, c, VerifyOptions{})
	if err != nil || rep.Errors != 0 {
		t.Fatalf("verify after expire: %+v %v", rep, err)
	}
}
