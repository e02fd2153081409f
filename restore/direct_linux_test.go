package restore

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/test/harness"
)

// dropCache writes the files' pages back and drops them from the page
// cache, as if the machine had just booted.
func dropCache(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		fd, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		err = fd.Sync()
		if err == nil {
			err = unix.Fadvise(int(fd.Fd()), 0, 0, unix.FADV_DONTNEED)
		}
		fd.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// mostlyCached tells pages read a moment ago from dropped ones, and the
// O_DIRECT comparison gets every byte right, the unaligned end of a file
// included.
func TestDeltaDirectRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "rel") // /tmp: on disk, not tmpfs, in CI
	data := bytes.Repeat([]byte("0123456789abcdefg"), (3<<20+4321)/17)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	if _, err := fd.ReadAt(make([]byte, len(data)), 0); err != nil {
		t.Fatal(err)
	}
	if !mostlyCached(fd, 0, int64(len(data))) {
		t.Fatal("a file read a moment ago is not in the page cache")
	}
	dropCache(t, p)
	rd, err := os.OpenFile(p, os.O_RDONLY|oDirect, 0)
	if err != nil {
		harness.Require(t, "a temporary directory on a file system with O_DIRECT ("+err.Error()+")", "set TMPDIR to a directory on disk, not tmpfs")
	}
	if mostlyCached(fd, 1<<20, 2<<20) {
		t.Fatal("the file is still in the page cache after FADV_DONTNEED")
	}
	defer rd.Close()
	bp := ioBufs.Get().(*[]byte)
	defer ioBufs.Put(bp)
	for _, part := range []struct{ off, size int64 }{{0, 1 << 20}, {1 << 20, 2 << 20}, {3 << 20, int64(len(data)) - 3<<20}, {0, int64(len(data))}} {
		plain := data[part.off : part.off+part.size]
		rp := repo.Part{Offset: part.off, Size: part.size, Digest: sha256.Sum256(plain)}
		same, err := samePartDirect(rd, fd, rp, sha256.New(), *bp)
		if err != nil || !same {
			t.Fatalf("part %d+%d: same %v, %v; want the same bytes", part.off, part.size, same, err)
		}
		rp.Digest[0] ^= 1
		if same, err := samePartDirect(rd, fd, rp, sha256.New(), *bp); err != nil || same {
			t.Fatalf("part %d+%d with another digest: same %v, %v", part.off, part.size, same, err)
		}
	}
}
