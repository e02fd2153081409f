package asyncget

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/pg/pgtest"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
	"github.com/pgkeep/pgkeep/repo/storage/storagetest"
	"github.com/pgkeep/pgkeep/walarchive"
)

const (
	segSize = 1 << 20
	sysid   = 42
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is a repository (memory storage behind a fault injector) with one
// cluster, WAL files pushed into it, and the spool of one data directory.
type env struct {
	t       *testing.T
	store   *storagetest.Faulty
	repo    *repo.Repo
	cluster *repo.ClusterInfo
	src     string            // the pushed files
	content map[string][]byte // what was pushed, by name
	dir     string            // the spool
	dest    string            // where archive-get restores to

	mu      sync.Mutex
	started int // prefetchers started
	cancel  context.CancelFunc
	done    chan error
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, store: storagetest.NewFaulty(memory.New()), src: t.TempDir(), content: map[string][]byte{},
		dir: filepath.Join(t.TempDir(), "spool"), dest: filepath.Join(t.TempDir(), "RECOVERYXLOG")}
	r, err := repo.Init(ctx, repo.Options{Storage: e.store, Compression: repo.CompressZstd})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := r.CreateCluster(ctx, repo.ClusterInfo{Name: "main", SystemID: sysid, PGVersion: 15, WALSegmentSize: segSize})
	if err != nil {
		t.Fatal(err)
	}
	e.repo, e.cluster = r, c
	t.Cleanup(e.stop)
	return e
}

// seg is segment n of timeline tli.
func seg(tli uint32, n uint64) string { return pg.SegmentName(tli, n, segSize) }

// push archives segments from..to of timeline tli, each filled with its
// own byte.
func (e *env) push(tli uint32, from, to uint64) {
	e.t.Helper()
	for n := from; n <= to; n++ {
		name := seg(tli, n)
		e.pushFile(name, pgtest.Segment(name, sysid, segSize, byte(n)+byte(tli)<<4))
	}
}

func (e *env) pushFile(name string, b []byte) {
	e.t.Helper()
	path := filepath.Join(e.src, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		e.t.Fatal(err)
	}
	if _, err := walarchive.Push(context.Background(), e.repo, e.cluster, path, quiet); err != nil {
		e.t.Fatal(err)
	}
	if w, _ := pg.ParseWALName(name); w.Kind == pg.KindPartial {
		name = name[:24]
	}
	e.content[name] = b
}

func (e *env) prefetcher() *Prefetcher {
	return &Prefetcher{
		Dir: e.dir, SystemID: sysid, QueueMax: 4 * segSize, ProcessMax: 2, Idle: time.Minute, Log: quiet,
		Poll: 2 * time.Millisecond,
		Open: func(context.Context) (*repo.Repo, *repo.ClusterInfo, error) { return e.repo, e.cluster, nil },
	}
}

// foreground starts the prefetcher in this process, as archive-get would
// start the detached one.
func (e *env) foreground() *Foreground {
	return &Foreground{
		Dir: e.dir, Log: quiet,
		Start: func() error {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.done != nil {
				select {
				case err := <-e.done:
					if err != nil {
						e.t.Errorf("prefetcher: %v", err)
					}
				default:
					return nil // still running
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			e.cancel, e.done = cancel, make(chan error, 1)
			e.started++
			go func(done chan error) { done <- e.prefetcher().Run(ctx) }(e.done)
			return nil
		},
		Fetch: func(ctx context.Context, name, dest string) error {
			return walarchive.Get(ctx, e.repo, e.cluster, name, dest)
		},
	}
}

func (e *env) stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel, e.done = nil, nil
	}
}

// get runs archive-get for name and checks that the file is what was
// pushed; it reports whether it came from the spool.
func (e *env) get(fg *Foreground, name string) bool {
	e.t.Helper()
	os.Remove(e.dest)
	fromSpool, err := fg.Get(context.Background(), name, e.dest)
	if err != nil {
		e.t.Fatalf("archive-get %s: %v", name, err)
	}
	got, err := os.ReadFile(e.dest)
	if err != nil || !bytes.Equal(got, e.content[name]) {
		e.t.Fatalf("archive-get %s: not the archived content (%v)", name, err)
	}
	return fromSpool
}

// spooled lists the segments in the spool.
func (e *env) spooled() []string {
	l, err := list(e.dir)
	if err != nil {
		return nil
	}
	var out []string
	for name := range l.segments {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// waitSpooled waits until the spool holds exactly names.
func (e *env) waitSpooled(names ...string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(e.spooled(), names) {
		if time.Now().After(deadline) {
			e.t.Fatalf("spool holds %v; want %v", e.spooled(), names)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A recovery that asks for one segment after the other gets each but the
// first from the spool, byte for byte what was archived, and the spool
// holds the next QueueMax bytes of segments, none that recovery has gone
// past. What was prefetched is handed out even when the repository can no
// longer be read; what was not is then an error, never "not found".
func TestPrefetchAhead(t *testing.T) {
	e := newEnv(t)
	e.push(1, 1, 12)
	fg := e.foreground()
	if e.get(fg, seg(1, 1)) {
		t.Fatal("the first segment came from an empty spool")
	}
	for n := uint64(2); n <= 6; n++ {
		e.waitSpooled(seg(1, n), seg(1, n+1), seg(1, n+2), seg(1, n+3))
		if !e.get(fg, seg(1, n)) {
			t.Fatalf("%s was fetched directly, not from the spool", seg(1, n))
		}
	}
	e.waitSpooled(seg(1, 7), seg(1, 8), seg(1, 9), seg(1, 10))
	if e.started != 1 {
		t.Fatalf("%d prefetchers started; want 1", e.started)
	}

	e.store.FailGets(1 << 30) // the repository is gone
	for n := uint64(7); n <= 10; n++ {
		if !e.get(fg, seg(1, n)) {
			t.Fatalf("%s was not in the spool", seg(1, n))
		}
	}
	os.Remove(e.dest)
	_, err := fg.Get(context.Background(), seg(1, 11), e.dest)
	if err == nil || errors.Is(err, walarchive.ErrNotFound) {
		t.Fatalf("archive-get %s with the repository unreadable: %v; want an error other than not found", seg(1, 11), err)
	}
	if _, serr := os.Stat(e.dest); serr == nil {
		t.Fatal("a file was restored although the fetch failed")
	}
}

// The end of the archive is never cached: a segment that was missing is
// found once it is archived, and the prefetcher goes on after it. A
// segment archived only as the streamed .partial is never prefetched;
// archive-get restores it from the partial as without async.
func TestPrefetchEndOfArchive(t *testing.T) {
	e := newEnv(t)
	e.push(1, 1, 3)
	fg := e.foreground()
	e.get(fg, seg(1, 1))
	e.waitSpooled(seg(1, 2), seg(1, 3))
	e.get(fg, seg(1, 2))
	e.get(fg, seg(1, 3))
	os.Remove(e.dest)
	if _, err := fg.Get(context.Background(), seg(1, 4), e.dest); !errors.Is(err, walarchive.ErrNotFound) {
		t.Fatalf("archive-get of a missing segment: %v; want not found", err)
	}

	e.push(1, 4, 6)
	e.get(fg, seg(1, 4))
	e.waitSpooled(seg(1, 5), seg(1, 6))

	partial := pgtest.Segment(seg(1, 7), sysid, segSize, 0x77)
	clear(partial[segSize/2:]) // streamed up to the middle
	e.pushFile(seg(1, 7)+".partial", partial)
	e.get(fg, seg(1, 5))
	e.get(fg, seg(1, 6))
	time.Sleep(50 * time.Millisecond) // 25 polls: time to prefetch it, if it did
	if got := e.spooled(); len(got) != 0 {
		t.Fatalf("spool holds %v; a partial must not be prefetched", got)
	}
	os.Remove(e.dest)
	if fromSpool, err := fg.Get(context.Background(), seg(1, 7), e.dest); err != nil || fromSpool {
		t.Fatalf("archive-get of the partial's segment: spool %v, %v", fromSpool, err)
	}
	if got, _ := os.ReadFile(e.dest); !bytes.Equal(got, partial) {
		t.Fatal("the partial's segment is not the partial")
	}
}

// A damaged object is not prefetched and archive-get reports it, as
// without async; the prefetcher goes on with the segments after it.
func TestPrefetchDamaged(t *testing.T) {
	e := newEnv(t)
	e.push(1, 1, 6)
	key := e.cluster.WALKey(seg(1, 3))
	var obj []byte
	if err := e.store.Get(context.Background(), key, 0, -1, func(r io.Reader) (err error) { obj, err = io.ReadAll(r); return }); err != nil {
		t.Fatal(err)
	}
	obj[len(obj)/2] ^= 0xff
	if err := e.store.Remove(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Put(context.Background(), key, bytes.NewReader(obj), int64(len(obj)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	fg := e.foreground()
	e.get(fg, seg(1, 1))
	e.waitSpooled(seg(1, 2), seg(1, 4), seg(1, 5))
	e.get(fg, seg(1, 2))
	os.Remove(e.dest)
	_, err := fg.Get(context.Background(), seg(1, 3), e.dest)
	if err == nil || errors.Is(err, walarchive.ErrNotFound) {
		t.Fatalf("archive-get of a damaged object: %v; want a checksum error", err)
	}
	if !e.get(fg, seg(1, 4)) {
		t.Fatalf("%s after the damaged segment was not prefetched", seg(1, 4))
	}
}

// A spool made for a data directory of another system is never filled.
func TestPrefetchOtherSystem(t *testing.T) {
	e := newEnv(t)
	e.push(1, 1, 3)
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeWant(e.dir, seg(1, 1)); err != nil {
		t.Fatal(err)
	}
	p := e.prefetcher()
	p.SystemID = 7
	if err := p.Run(context.Background()); err == nil {
		t.Fatal("the prefetcher ran for a data directory of another system")
	}
	if got := e.spooled(); len(got) != 0 {
		t.Fatalf("spool holds %v", got)
	}
}

// The prefetcher follows recovery onto a new timeline, drops the old
// timeline's segments, and empties the spool when recovery stops asking.
func TestPrefetchTimelineAndIdle(t *testing.T) {
	e := newEnv(t)
	e.push(1, 1, 8)
	e.push(2, 4, 8)
	fg := e.foreground()
	e.get(fg, seg(1, 1))
	e.waitSpooled(seg(1, 2), seg(1, 3), seg(1, 4), seg(1, 5))
	e.get(fg, seg(1, 2))
	e.get(fg, seg(1, 3))
	e.get(fg, seg(2, 4)) // the switch: recovery asks for the new timeline's segment
	e.waitSpooled(seg(2, 5), seg(2, 6), seg(2, 7), seg(2, 8))

	e.stop() // a stopped prefetcher empties the spool too
	if got := e.spooled(); len(got) != 0 {
		t.Fatalf("a stopped prefetcher left %v in the spool", got)
	}
	if err := writeWant(e.dir, seg(2, 5)); err != nil {
		t.Fatal(err)
	}
	p := e.prefetcher()
	p.Idle = 500 * time.Millisecond
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	e.waitSpooled(seg(2, 6), seg(2, 7), seg(2, 8))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the prefetcher did not exit once recovery stopped asking")
	}
	if got := e.spooled(); len(got) != 0 {
		t.Fatalf("an idle prefetcher left %v in the spool", got)
	}
}

func TestPlan(t *testing.T) {
	w, _ := pg.ParseWALName("0000000300000001000000FE")
	got := plan(w, 3, 16<<20)
	want := []string{"0000000300000001000000FF", "000000030000000200000000", "000000030000000200000001"}
	if !slices.Equal(got, want) {
		t.Fatalf("plan: %v; want %v", got, want)
	}
}
