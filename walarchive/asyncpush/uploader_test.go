package asyncpush

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/internal/detach"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
	"github.com/pgkeep/pgkeep/repo/storage/storagetest"
	"github.com/pgkeep/pgkeep/walarchive"
)

// Other content archived under a spooled file's name: recorded, reported
// by the next push of that file and of any other, the archive unchanged;
// removing the error marker after fixing the repository retries at once.
func TestConflictIsRecordedAndReported(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	const name, next = "000000010000000000000001", "000000010000000000000002"
	other := fakeSegment(name, 42, 7)
	if _, err := walarchive.Push(ctx, e.repo, e.cluster, e.wal(name, other), quiet); err != nil {
		t.Fatal(err)
	}
	fg := e.foreground()
	e.push(fg, e.wal(name, fakeSegment(name, 42, 1)), Spooled)

	u := e.uploader()
	marker := filepath.Join(e.spool, errorDir, name)
	runUntil(t, u, func() bool { _, err := os.Stat(marker); return err == nil })

	_, err := fg.Push(ctx, filepath.Join(e.src, name))
	if !errors.Is(err, walarchive.ErrConflict) || !errors.Is(err, ErrUploaderFailing) ||
		!strings.Contains(err.Error(), "different content already archived") {
		t.Fatalf("push of the conflicting file: want the conflict, got %v", err)
	}
	if _, err := fg.Push(ctx, e.wal(next, fakeSegment(next, 42, 2))); !errors.Is(err, walarchive.ErrConflict) {
		t.Fatalf("push of another file: want the conflict reported, got %v", err)
	}
	if !bytes.Equal(e.archived(name), other) {
		t.Fatal("the archived object changed")
	}
	if got := e.spooled(); len(got) != 1 {
		t.Fatalf("the conflicting file must stay in the spool: %v", got)
	}

	// The operator removes the wrong object and the marker: archived at once.
	if err := e.repo.Storage().Remove(ctx, "main/wal/0000000100000000/"+name); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	runUntil(t, u, func() bool { return len(e.spooled()) == 0 })
	if !bytes.Equal(e.archived(name), fakeSegment(name, 42, 1)) {
		t.Fatal("the spooled file did not reach the repository")
	}
	e.push(fg, filepath.Join(e.src, next), Spooled)
}

// Upload failures are retried; after recordAfter attempts they are
// recorded, reported by the file's push at once and by any push once they
// last FailAfter; the first success clears them.
func TestRepeatedFailuresAreRecordedThenCleared(t *testing.T) {
	faulty := storagetest.NewFaulty(memory.New())
	e := newEnv(t, faulty)
	ctx := context.Background()
	var clock atomic.Int64 // seconds past base; every reading advances it
	base := time.Now()
	now := func() time.Time { return base.Add(time.Duration(clock.Add(1)) * time.Second) }

	const name, next = "000000010000000000000001", "000000010000000000000002"
	fg := e.foreground()
	fg.Now = now
	e.push(fg, e.wal(name, fakeSegment(name, 42, 1)), Spooled)
	faulty.FailPuts(1000)
	u := e.uploader()
	u.Now = now
	marker := filepath.Join(e.spool, errorDir, name)
	runUntil(t, u, func() bool { _, err := os.Stat(marker); return err == nil })

	if _, err := fg.Push(ctx, filepath.Join(e.src, name)); !errors.Is(err, ErrUploaderFailing) ||
		errors.Is(err, walarchive.ErrConflict) || !strings.Contains(err.Error(), storagetest.ErrInjected.Error()) {
		t.Fatalf("push of the failing file: want the upload error, got %v", err)
	}
	fg.FailAfter = time.Hour
	e.push(fg, e.wal(next, fakeSegment(next, 42, 2)), Spooled) // not failing for long yet
	clock.Add(3600)
	if _, err := fg.Push(ctx, filepath.Join(e.src, next)); !errors.Is(err, ErrUploaderFailing) {
		t.Fatalf("push while the uploader fails for long: want ErrUploaderFailing, got %v", err)
	}

	faulty.FailPuts(0)
	clock.Add(60) // past the backoff
	runUntil(t, u, func() bool { return len(e.spooled()) == 0 })
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("the error marker outlived the successful upload (%v)", err)
	}
	e.push(fg, filepath.Join(e.src, next), AlreadyArchived)
}

// The uploader archives what archive_status marks ready (past the oldest,
// which PostgreSQL is pushing) straight from pg_wal, copying nothing into
// the spool, so that the push finds it archived.
func TestLookAhead(t *testing.T) {
	e := newEnv(t, nil)
	const first, second = "000000010000000000000001", "000000010000000000000002"
	for i, name := range []string{first, second} {
		e.wal(name, fakeSegment(name, 42, byte(i)))
		if err := os.WriteFile(filepath.Join(e.src, "archive_status", name+".ready"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fg := e.foreground()
	if _, err := fg.Push(context.Background(), filepath.Join(e.src, first)); err != nil { // caches the registration
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(e.spool, first)); err != nil {
		t.Fatal(err)
	}
	u := e.uploader()
	u.WALDir = e.src
	u.Idle = time.Hour
	runUntil(t, u, func() bool { return e.archived(second) != nil })
	if !bytes.Equal(e.archived(second), fakeSegment(second, 42, 1)) {
		t.Fatal("look-ahead archived other content")
	}
	if e.archived(first) != nil {
		t.Fatal("look-ahead took the oldest ready file, which PostgreSQL is pushing")
	}
	var m doneMarker
	if ok, err := (spoolDir{e.spool}).readMarker(doneDir, second, &m); !ok || err != nil || m.File == nil {
		t.Fatalf("done marker of the look-ahead: %+v, %v, %v; want the file's identity", m, ok, err)
	}
	if got := e.spooled(); len(got) != 0 {
		t.Fatalf("the look-ahead copied into the spool: %v", got)
	}
	e.push(fg, filepath.Join(e.src, second), AlreadyArchived)

	// The same bytes in another file (PostgreSQL never does that, a restore
	// may): no longer the same file, so the push compares contents.
	if err := os.Rename(e.wal(second+".copy", fakeSegment(second, 42, 1)), filepath.Join(e.src, second)); err != nil {
		t.Fatal(err)
	}
	e.push(fg, filepath.Join(e.src, second), AlreadyArchived)
	// Other bytes under the name: not taken for archived; spooled, and the
	// uploader will report the conflict.
	e.wal(second, fakeSegment(second, 42, 9))
	e.push(fg, filepath.Join(e.src, second), Spooled)
}

// A file that stops being ready while the look-ahead reads it (PostgreSQL
// got archive-push's success and may recycle it) is not archived from
// what was read: nothing is published and no done marker written.
func TestLookAheadDropsRecycledFile(t *testing.T) {
	e := newEnv(t, nil)
	const name = "000000010000000000000002"
	e.wal(name, fakeSegment(name, 42, 1))
	ready := filepath.Join(e.src, "archive_status", name+".ready")
	if err := os.WriteFile(ready, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := openSpoolDir(e.spool)
	if err != nil {
		t.Fatal(err)
	}
	u := e.uploader()
	u.WALDir = e.src
	w := newSession(u, s, nil)
	w.repo, w.cluster = e.repo, e.cluster

	// The .ready file goes while the file is read: simulated by removing it
	// first, as the check comes after the last byte.
	if err := os.Remove(ready); err != nil {
		t.Fatal(err)
	}
	if err := w.pushAhead(context.Background(), name); !errors.Is(err, errNoLongerReady) {
		t.Fatalf("look-ahead of a file no longer ready: %v; want errNoLongerReady", err)
	}
	if e.archived(name) != nil {
		t.Fatal("the look-ahead published a file that stopped being ready")
	}
	if w.hasMarker(doneDir, name) || w.hasMarker(aheadDir, name) {
		t.Fatal("the look-ahead left a done or look-ahead marker")
	}

	// Still ready: archived, with the identity of the file.
	if err := os.WriteFile(ready, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.pushAhead(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.archived(name), fakeSegment(name, 42, 1)) || !w.hasMarker(doneDir, name) || w.hasMarker(aheadDir, name) {
		t.Fatal("the look-ahead of a ready file did not archive it and record it")
	}
}

// A push of a file the look-ahead is archiving waits for it and copies
// nothing; a look-ahead marker of a process that is gone is ignored.
func TestPushWaitsForLookAhead(t *testing.T) {
	e := newEnv(t, nil)
	const name = "000000010000000000000002"
	path := e.wal(name, fakeSegment(name, 42, 1))
	fg := e.foreground()
	if _, err := fg.Push(context.Background(), e.wal("000000010000000000000001", fakeSegment("000000010000000000000001", 42, 0))); err != nil {
		t.Fatal(err) // creates the spool and caches the registration
	}
	s := spoolDir{e.spool}
	if err := s.writeMarker(aheadDir, name, aheadMarker{PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := walarchive.Push(context.Background(), e.repo, e.cluster, path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		s.writeMarker(doneDir, name, doneMarker{Size: res.Size, SHA256: res.Digest.String(), File: fileIDOf(fi)})
		s.removeMarker(aheadDir, name)
	}()
	start := time.Now()
	e.push(fg, path, AlreadyArchived)
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Fatalf("the push returned after %s, before the look-ahead finished", waited)
	}
	if got := e.spooled(); len(got) != 1 {
		t.Fatalf("spool holds %v; want only the first file", got)
	}

	// A marker of a process that is gone: no wait, the file is spooled.
	const third = "000000010000000000000003"
	if err := s.writeMarker(aheadDir, third, aheadMarker{PID: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	fg.AheadWait = time.Hour
	e.push(fg, e.wal(third, fakeSegment(third, 42, 3)), Spooled)
}

func TestOneUploaderPerSpool(t *testing.T) {
	e := newEnv(t, nil)
	s, err := openSpoolDir(e.spool)
	if err != nil {
		t.Fatal(err)
	}
	lock, ok, err := detach.TryLock(s.path(lockFile))
	if err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	started, err := EnsureUploader(e.spool, []string{"/bin/true"})
	if err != nil || started {
		t.Fatalf("started an uploader beside a running one: %v %v", started, err)
	}
	u := e.uploader()
	u.Idle = time.Hour
	if err := u.Run(context.Background()); err != nil { // returns at once
		t.Fatal(err)
	}
	lock.Close()
	started, err = EnsureUploader(e.spool, []string{"/bin/true"})
	if err != nil || !started {
		t.Fatalf("no uploader started on a free spool: %v %v", started, err)
	}
}

// An uploader that read the registration before `create --upgrade` reads
// it again when a spooled segment is not WAL of the cluster as it read it,
// and archives the upgraded server's segment into the new generation
// instead of failing it for good.
func TestUploaderReadsTheRegistrationAgainAfterAnUpgrade(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	fresh := func(ctx context.Context) (*repo.ClusterInfo, error) { return e.repo.Cluster(ctx, "main") }
	fg := e.foreground()
	fg.Cluster = fresh
	u := e.uploader()
	u.Idle = time.Minute
	u.Open = func(ctx context.Context) (*repo.Repo, *repo.ClusterInfo, error) {
		c, err := fresh(ctx)
		return e.repo, c, err
	}
	const first, next = "000000010000000000000001", "000000010000000000000009"
	e.push(fg, e.wal(first, fakeSegment(first, 42, 1)), Spooled)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- u.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, "the first segment to be archived", func() bool { return e.archived(first) != nil })

	c, _, err := e.repo.UpgradeCluster(ctx, repo.ClusterInfo{Name: "main", SystemID: 43, PGVersion: 16, WALSegmentSize: segSize})
	if err != nil {
		t.Fatal(err)
	}
	data := fakeSegment(next, 43, 2)
	e.push(fg, e.wal(next, data), Spooled)
	waitFor(t, "the upgraded server's segment to be archived into generation 2", func() bool {
		_, err := e.repo.Storage().Stat(ctx, c.WALKey(next))
		return err == nil
	})
	var rec failure
	if had, _ := (spoolDir{e.spool}).readMarker(errorDir, next, &rec); had {
		t.Fatalf("a failure was recorded: %+v", rec)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
