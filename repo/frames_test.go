package repo

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// walLike is n bytes that compress a few times over, like WAL: repeated
// records with varying numbers and some random pages.
func walLike(n int) []byte {
	rnd := rand.New(rand.NewPCG(3, 4))
	var b bytes.Buffer
	for b.Len() < n {
		if rnd.IntN(1000) == 0 {
			page := make([]byte, 8192)
			for i := range page {
				page[i] = byte(rnd.Uint32())
			}
			b.Write(page)
			continue
		}
		b.WriteString("UPDATE pgbench_accounts SET abalance = abalance + ")
		b.WriteString(strings.Repeat("x", rnd.IntN(40)))
		b.WriteByte(byte(rnd.Uint32()))
	}
	return b.Bytes()[:n]
}

func TestEncodeFileRoundTrip(t *testing.T) {
	plainFrames := walLike(2*frameSize + 12345) // three frames, the last short
	for cname, c := range testCodecs(t) {
		for _, tc := range []struct {
			name    string
			plain   []byte
			workers int
		}{
			{"frames", plainFrames, 2},
			{"frames-4-workers", plainFrames, 4},
			{"one-worker", plainFrames, 1},
			{"one-frame", plainFrames[:frameSize], 2},
			{"empty", nil, 2},
		} {
			for _, source := range []string{"reader", "file"} {
				t.Run(cname+"/"+tc.name+"/"+source, func(t *testing.T) {
					var obj bytes.Buffer
					d, err := c.EncodeFile(&obj, testSource(t, source, tc.plain), int64(len(tc.plain)), tc.workers)
					if err != nil {
						t.Fatal(err)
					}
					got, d2, err := c.Decode(obj.Bytes())
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, tc.plain) || d != d2 || d != c.Digest(tc.plain) {
						t.Fatalf("round trip differs: %d bytes in, %d out", len(tc.plain), len(got))
					}
					if cname == "zstd" && tc.workers > 1 && len(tc.plain) > frameSize {
						want := (len(tc.plain) + frameSize - 1) / frameSize
						if n := bytes.Count(obj.Bytes(), []byte{0x28, 0xb5, 0x2f, 0xfd}); n < want {
							t.Fatalf("%d zstd frames, want %d", n, want)
						}
					}
					// A damaged byte in the middle of a frame is caught.
					if obj.Len() > 1000 {
						if _, _, err := c.Decode(flip(obj.Bytes(), obj.Len()/2)); !IsCorrupt(err) {
							t.Fatalf("damaged object decoded: %v", err)
						}
					}
				})
			}
		}
	}
}

// testSource returns plain as EncodeFile's source: an in-memory reader, or
// a file (which EncodeFile maps into memory where it can).
func testSource(t *testing.T, kind string, plain []byte) io.ReaderAt {
	if kind == "reader" {
		return bytes.NewReader(plain)
	}
	path := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(path, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// Frames cost almost nothing in ratio against one stream.
func TestEncodeFileRatio(t *testing.T) {
	plain := walLike(2 * frameSize)
	c := &Codec{Compression: CompressZstd}
	var one, two bytes.Buffer
	if _, err := c.EncodeFile(&one, bytes.NewReader(plain), int64(len(plain)), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EncodeFile(&two, bytes.NewReader(plain), int64(len(plain)), 2); err != nil {
		t.Fatal(err)
	}
	if one.Len() >= len(plain)/2 {
		t.Fatalf("test data does not compress: %d of %d", one.Len(), len(plain))
	}
	if float64(two.Len()) > 1.01*float64(one.Len()) {
		t.Fatalf("two frames store %d bytes, one stream %d: more than 1%% apart", two.Len(), one.Len())
	}
}

func TestEncodeFileShortSource(t *testing.T) {
	plain := walLike(2 * frameSize)
	c := &Codec{Compression: CompressZstd}
	for _, workers := range []int{1, 2} {
		for _, source := range []string{"reader", "file"} {
			var obj bytes.Buffer
			_, err := c.EncodeFile(&obj, testSource(t, source, plain[:len(plain)-1]), int64(len(plain)), workers)
			if err == nil || !strings.Contains(err.Error(), "shrank") {
				t.Fatalf("workers %d, %s: a file shorter than its size encoded: %v", workers, source, err)
			}
		}
	}
}
