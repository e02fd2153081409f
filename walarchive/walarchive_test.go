package walarchive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/pgkeep/pgkeep/pg/pgtest"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
)

const segSize = 1 << 20

// fakeSegment builds a segment of cluster sysid (PostgreSQL 15) with a
// valid long page header, filled with fill.
func fakeSegment(name string, sysid uint64, fill byte) []byte {
	return pgtest.Segment(name, sysid, segSize, fill)
}

func setup(t *testing.T) (*repo.Repo, *repo.ClusterInfo, string) {
	t.Helper()
	ctx := context.Background()
	r, err := repo.Init(ctx, repo.Options{Storage: memory.New(), Compression: repo.CompressZstd})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := r.CreateCluster(ctx, repo.ClusterInfo{Name: "main", SystemID: 42, PGVersion: 15, WALSegmentSize: segSize})
	if err != nil {
		t.Fatal(err)
	}
	return r, c, t.TempDir()
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestPushValidates(t *testing.T) {
	r, c, dir := setup(t)
	ctx := context.Background()
	const name = "000000010000000000000003"
	cases := map[string]struct {
		name string
		data []byte
	}{
		"wrong size":      {name, fakeSegment(name, 42, 1)[:segSize/2]},
		"wrong system":    {name, fakeSegment(name, 43, 1)},
		"wrong position":  {name, fakeSegment("000000010000000000000004", 42, 1)},
		"no header":       {name, make([]byte, segSize)},
		"not a WAL name":  {"RECOVERYXLOG.gz", fakeSegment(name, 42, 1)},
		"binary .history": {"00000002.history", []byte{0, 1, 2}},
	}
	for what, tc := range cases {
		sub := filepath.Join(dir, what)
		os.Mkdir(sub, 0o700)
		_, err := Push(ctx, r, c, write(t, sub, tc.name, tc.data), quiet)
		if !errors.Is(err, ErrNotWAL) {
			t.Errorf("%s: want ErrNotWAL, got %v", what, err)
		}
	}
}

func TestPushGetRoundTripAndConflict(t *testing.T) {
	r, c, dir := setup(t)
	ctx := context.Background()
	files := map[string][]byte{
		"000000010000000000000003":                 fakeSegment("000000010000000000000003", 42, 7),
		"000000010000000000000004.partial":         fakeSegment("000000010000000000000004", 42, 8),
		"00000002.history":                         []byte("1\t0/4000000\tno recovery target specified\n"),
		"000000010000000000000003.00000028.backup": []byte("START WAL LOCATION: 0/3000028\n"),
	}
	for name, data := range files {
		res, err := Push(ctx, r, c, write(t, dir, name, data), quiet)
		if err != nil || res.Already {
			t.Fatalf("push %s: %+v %v", name, res, err)
		}
		again, err := Push(ctx, r, c, write(t, dir, name, data), quiet)
		if err != nil || !again.Already {
			t.Fatalf("second push of %s: %+v %v", name, again, err)
		}
		dest := filepath.Join(dir, "out-"+name)
		if err := Get(ctx, r, mainGen, name, dest); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
			t.Fatalf("get %s differs", name)
		}
	}
	changed := fakeSegment("000000010000000000000003", 42, 9)
	if _, err := Push(ctx, r, c, write(t, dir, "000000010000000000000003", changed), quiet); !errors.Is(err, ErrConflict) {
		t.Fatalf("conflicting push: %v", err)
	}
	if err := Get(ctx, r, mainGen, "000000010000000000000009", filepath.Join(dir, "x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if _, err := r.Cluster(ctx, "other"); !errors.Is(err, repo.ErrNoCluster) || errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown cluster must not look like the end of the archive: %v", err)
	}

	sum, err := Summarize(ctx, r, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Timelines) != 2 || sum.Timelines[0].Ranges[0].First != "000000010000000000000003" ||
		sum.Timelines[0].Partial == "" || !sum.Timelines[1].History {
		t.Fatalf("summary: %+v", sum)
	}
}

func TestRanges(t *testing.T) {
	got := ranges(1, []uint64{7, 3, 4, 5, 9, 8, 12}, 16<<20)
	want := []Range{
		{"000000010000000000000003", "000000010000000000000005", 3},
		{"000000010000000000000007", "000000010000000000000009", 3},
		{"00000001000000000000000C", "00000001000000000000000C", 1},
	}
	if len(got) != len(want) {
		t.Fatalf("%+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("range %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// mainGen is the first generation of the tests' cluster "main".
var mainGen = &repo.ClusterInfo{Name: "main"}
