package asyncpush

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/internal/detach"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/walarchive"
)

func TestPushSpoolsThenUploaderArchives(t *testing.T) {
	e := newEnv(t, nil)
	fg := e.foreground()
	names := []string{"000000010000000000000001", "000000010000000000000002", "000000010000000000000003"}
	data := map[string][]byte{}
	for i, n := range names {
		data[n] = fakeSegment(n, 42, byte(i))
		e.push(fg, e.wal(n, data[n]), Spooled)
	}
	e.push(fg, filepath.Join(e.src, names[0]), AlreadyQueued)
	if got := e.spooled(); len(got) != 3 {
		t.Fatalf("spool holds %v", got)
	}

	if err := e.uploader().Run(context.Background()); err != nil { // Idle 0: exits once empty
		t.Fatal(err)
	}
	for _, n := range names {
		if !bytes.Equal(e.archived(n), data[n]) {
			t.Fatalf("%s is not archived byte-identical", n)
		}
	}
	if got := e.spooled(); len(got) != 0 {
		t.Fatalf("spool still holds %v", got)
	}

	// PostgreSQL's retry is free, even with the repository gone: the
	// registration is cached and the done marker says it is archived.
	fg.Cluster = func(context.Context) (*repo.ClusterInfo, error) { return nil, errors.New("unreachable") }
	e.push(fg, filepath.Join(e.src, names[1]), AlreadyArchived)
	const next = "000000010000000000000004"
	e.push(fg, e.wal(next, fakeSegment(next, 42, 9)), Spooled)
}

func TestPushValidatesLikeTheSyncPush(t *testing.T) {
	e := newEnv(t, nil)
	const name = "000000010000000000000005"
	for what, data := range map[string][]byte{
		"other system": fakeSegment(name, 43, 1),
		"short":        fakeSegment(name, 42, 1)[:segSize/2],
		"misplaced":    fakeSegment("000000010000000000000006", 42, 1),
	} {
		_, err := e.foreground().Push(context.Background(), e.wal(name, data))
		if !errors.Is(err, walarchive.ErrNotWAL) {
			t.Errorf("%s: want ErrNotWAL, got %v", what, err)
		}
	}
	if got := e.spooled(); len(got) != 0 {
		t.Fatalf("an invalid file was spooled: %v", got)
	}
}

func TestPushRefusedWhenSpoolFull(t *testing.T) {
	e := newEnv(t, nil)
	fg := e.foreground()
	fg.QueueMax = 2 * segSize
	for i, n := range []string{"000000010000000000000001", "000000010000000000000002"} {
		e.push(fg, e.wal(n, fakeSegment(n, 42, byte(i))), Spooled)
	}
	const third = "000000010000000000000003"
	_, err := fg.Push(context.Background(), e.wal(third, fakeSegment(third, 42, 3)))
	if !errors.Is(err, ErrSpoolFull) || !strings.Contains(err.Error(), "2 MB of WAL queued") ||
		!strings.Contains(err.Error(), "limit (archive.queue-max-mb) is 2 MB") || !strings.Contains(err.Error(), "not keeping up or is unreachable") {
		t.Fatalf("want a spool-full error with the amounts, got %v", err)
	}
	if got := e.spooled(); len(got) != 2 {
		t.Fatalf("spool holds %v", got)
	}
}

func TestPushRefusesOtherContentQueuedUnderTheName(t *testing.T) {
	e := newEnv(t, nil)
	fg := e.foreground()
	const name = "000000010000000000000001"
	e.push(fg, e.wal(name, fakeSegment(name, 42, 1)), Spooled)
	_, err := fg.Push(context.Background(), e.wal(name, fakeSegment(name, 42, 2)))
	if !errors.Is(err, walarchive.ErrConflict) {
		t.Fatalf("want a conflict, got %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(e.spool, name))
	if !bytes.Equal(b, fakeSegment(name, 42, 1)) {
		t.Fatal("the queued copy changed")
	}
}

func TestStaleTemporaryFilesAreIgnoredAndRemoved(t *testing.T) {
	e := newEnv(t, nil)
	s, err := openSpoolDir(e.spool)
	if err != nil {
		t.Fatal(err)
	}
	const name = "000000010000000000000007"
	dead := s.path(detach.TempName(name, 1<<30)) // no such pid
	live := s.path(detach.TempName(name, 1))     // init
	for _, p := range []string{dead, live} {
		if err := os.WriteFile(p, fakeSegment(name, 42, 1)[:1000], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.uploader().Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Fatalf("the dead process's partial copy is still there (%v)", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Fatalf("a live process's copy was removed: %v", err)
	}
	if e.archived(name) != nil {
		t.Fatal("a partial copy was archived")
	}
}
