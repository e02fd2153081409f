package walarchive

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
)

// newTestUploader is an uploader on a memory repository whose receiver
// streams segment current.
func newTestUploader(t *testing.T, current string, flushed pg.LSN) (*uploader, *repo.Repo, string) {
	t.Helper()
	r, c, dir := setup(t)
	rc, err := NewReceiver(ReceiverOptions{Repo: r, Cluster: c, SpoolDir: dir, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	rc.update(func(st *ReceiverStatus) { st.Segment, st.Received, st.Flushed = current, flushed, flushed })
	return newUploader(rc, &spool{dir: dir}), r, dir
}

func TestUploaderSpool(t *testing.T) {
	const cur = "000000010000000000000006"
	u, r, dir := newTestUploader(t, cur, 0)
	ctx := t.Context()
	done, conflict := "000000010000000000000004", "000000010000000000000005"
	for _, name := range []string{done + ".partial", conflict} {
		if _, _, err := r.PutObject(ctx, mainGen.WALKey(name), fakeSegment(conflict, 42, 1), false); err != nil {
			t.Fatal(err)
		}
	}
	write(t, dir, done, fakeSegment(done, 42, 2))
	write(t, dir, conflict, fakeSegment(conflict, 42, 3))
	write(t, dir, "00000001000000000000000A.partial", []byte("ended timeline")) // not current: finished
	write(t, dir, cur+".partial", []byte("being received"))

	err := u.uploadSpool(ctx)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("uploadSpool: %v, want ErrConflict", err)
	}
	if _, err := os.Stat(filepath.Join(dir, conflict)); err != nil {
		t.Errorf("the conflicting segment left the spool: %v", err)
	}
	if ok, _ := Exists(ctx, r, mainGen, done); !ok {
		t.Errorf("%s not archived", done)
	}
	if ok, _ := Exists(ctx, r, mainGen, done+".partial"); ok {
		t.Errorf("%s.partial still archived next to the segment", done)
	}
	if st := u.r.Status(); st.Archived != 5*segSize {
		t.Errorf("archived %s, want 0/500000", st.Archived)
	}

	os.Remove(filepath.Join(dir, conflict))
	if err := u.uploadSpool(ctx); err != nil {
		t.Fatal(err)
	}
	if got := (&uploadProbe{t, r}).get("00000001000000000000000A.partial"); string(got) != "ended timeline" {
		t.Errorf("ended timeline's .partial: %q", got)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "0*"))
	if len(files) != 1 || filepath.Base(files[0]) != cur+".partial" {
		t.Errorf("spool after the uploads: %v", files)
	}
}

func TestUploaderPartial(t *testing.T) {
	const cur = "000000010000000000000006"
	seg := fakeSegment(cur, 42, 7)
	u, r, dir := newTestUploader(t, cur, 6*segSize+1000)
	// 3000 bytes received, 1000 of them fsynced; the file holds more (an
	// earlier run's copy): the .partial is what was received.
	u.r.update(func(st *ReceiverStatus) { st.Received = 6*segSize + 3000 })
	write(t, dir, cur+".partial", seg[:5000])
	if err := u.uploadPartial(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := (&uploadProbe{t, r}).get(cur + ".partial"); !bytes.Equal(got, seg[:3000]) {
		t.Errorf(".partial has %d bytes, want the 3000 received", len(got))
	}
	// The .partial is compressed with s2 (byte 5 of the object header),
	// whatever the repository's compression.
	err := r.Storage().Get(t.Context(), mainGen.WALKey(cur+".partial"), 0, 8, func(rd io.Reader) error {
		hdr, err := io.ReadAll(rd)
		if err == nil && (len(hdr) != 8 || repo.Compression(hdr[5]) != repo.CompressS2) {
			t.Errorf(".partial object header %x: want compression s2", hdr)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := u.r.Status(); st.Archived != 6*segSize+3000 {
		t.Errorf("archived %s", st.Archived)
	}
}

// The .partial grows version by version, each compressing only its new
// bytes, and goes when the segment itself is archived.
func TestUploaderPartialGrows(t *testing.T) {
	const cur, next = "000000010000000000000006", "000000010000000000000007"
	ctx := t.Context()
	seg := fakeSegment(cur, 42, 7)
	for i := range seg[4096:] {
		seg[4096+i] = byte(i * 7 / 5) // not all alike, so versions differ
	}
	u, r, dir := newTestUploader(t, cur, 6*segSize)
	probe := &uploadProbe{t, r}
	write(t, dir, cur+".partial", seg)
	for _, n := range []int{3000, 3000, 9000, segSize / 4, segSize - 1} {
		u.r.update(func(st *ReceiverStatus) { st.Received = 6*segSize + pg.LSN(n) })
		if err := u.uploadPartial(ctx); err != nil {
			t.Fatal(err)
		}
		if got := probe.get(cur + ".partial"); !bytes.Equal(got, seg[:n]) {
			t.Fatalf(".partial has %d bytes, want the first %d of the segment", len(got), n)
		}
		if st := u.r.Status(); st.Archived != 6*segSize+pg.LSN(n) {
			t.Errorf("archived %s after a .partial of %d bytes", st.Archived, n)
		}
	}
	// The segment finishes and is archived; its .partial goes.
	if err := os.Rename(filepath.Join(dir, cur+".partial"), filepath.Join(dir, cur)); err != nil {
		t.Fatal(err)
	}
	u.r.update(func(st *ReceiverStatus) { st.Segment, st.Received = next, 7*segSize })
	if err := u.uploadSpool(ctx); err != nil {
		t.Fatal(err)
	}
	if got := probe.get(cur); !bytes.Equal(got, seg) {
		t.Errorf("segment archived with %d bytes", len(got))
	}
	if ok, _ := Exists(ctx, r, mainGen, cur+".partial"); ok {
		t.Error(".partial still archived next to the segment")
	}
	if u.partial != nil {
		t.Error("the finished segment's .partial is still held in memory")
	}
}

type uploadProbe struct {
	t *testing.T
	r *repo.Repo
}

func (p *uploadProbe) get(name string) []byte {
	var b bytes.Buffer
	if _, err := p.r.ReadObject(p.t.Context(), mainGen.WALKey(name), &b); err != nil {
		p.t.Fatal(err)
	}
	return b.Bytes()
}
