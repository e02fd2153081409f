package restore

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// Files of several MiB are written with O_DIRECT where the file system
// allows it (ext4 under /tmp here; tmpfs falls back to buffered writes),
// in aligned chunks, a zero-padded last chunk that is truncated away, and
// buffered writes for parts at unaligned offsets; several workers write
// parts of one file at once. Whatever the path, the bytes must be exact,
// in a full restore and in a delta restore that rewrites one part.
func TestRestoreLargeFiles(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	blob := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.IntN(7)) // compressible, not constant
		}
		return string(b)
	}
	for _, tc := range []struct {
		name     string
		partSize int
	}{
		{"aligned-parts", 1 << 20},
		{"unaligned-parts", 1<<20 + 3},
		{"small-parts", 300_001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.partSize = tc.partSize
			files := testFiles()
			files["base/1/16384"] = blob(3<<20 + 5000) // ends mid-page
			files["base/1/16385"] = blob(2 << 20)      // a whole number of chunks
			files["base/1/16386"] = blob(1<<20 - 1)    // below the direct size
			f.backup(t, testLabel, files, nil)
			dir := filepath.Join(t.TempDir(), "pgdata")
			for _, workers := range []int{1, 6} {
				os.RemoveAll(dir)
				if _, err := f.restore(t, Options{PGData: dir, Workers: workers}); err != nil {
					t.Fatal(err)
				}
				checkFiles(t, dir, files)
			}
			// One byte changed in the middle of the large file: the
			// delta rewrites exactly one part.
			p := filepath.Join(dir, "base/1/16384")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[2<<20+7] ^= 1
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			res, err := f.restore(t, Options{PGData: dir, Delta: true, Workers: 6})
			if err != nil {
				t.Fatal(err)
			}
			checkFiles(t, dir, files)
			if res.Rewritten != 1 || res.RewrittenBytes != int64(tc.partSize) {
				t.Fatalf("delta: %+v; want one part of %d bytes rewritten", res.Stats, tc.partSize)
			}
		})
	}
}
