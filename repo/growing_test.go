package repo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/repo/storage/memory"
)

// Every version a GrowingFile stores reads back as exactly the bytes it
// had then, whatever the codec, with and without encryption.
func TestGrowingFileVersions(t *testing.T) {
	ctx := context.Background()
	plain := walLike(3<<20 + 777)
	steps := []int64{1, 8192, 8192, 100000, 1 << 20, 1<<20 + 5, 3 << 20, int64(len(plain))}
	for _, pass := range []string{"", "secret"} {
		o := Options{Storage: memory.New()}
		if pass != "" {
			o.CipherPass = []byte(pass)
		}
		base, err := Init(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []Compression{CompressNone, CompressZstd, CompressS2, CompressGzip} {
			name := c.String()
			if pass != "" {
				name += "+aes"
			}
			t.Run(name, func(t *testing.T) {
				r := base.WithCompression(c, 0)
				g := r.NewGrowingFile("wal/x.partial")
				for _, n := range steps {
					d, err := g.Put(ctx, bytes.NewReader(plain), n)
					if err != nil {
						t.Fatalf("put %d bytes: %v", n, err)
					}
					var got bytes.Buffer
					d2, err := r.ReadObject(ctx, g.Key(), &got)
					if err != nil {
						t.Fatalf("read back %d bytes: %v", n, err)
					}
					if !bytes.Equal(got.Bytes(), plain[:n]) || d != d2 || d != r.Codec().Digest(plain[:n]) {
						t.Fatalf("version of %d bytes reads back as %d bytes (digest match %v)", n, got.Len(), d == d2)
					}
				}
			})
		}
	}
}

// A file that shrinks is refused; one that ends early fails the Put, and
// the next Put starts again from the beginning and is right.
func TestGrowingFileErrors(t *testing.T) {
	ctx := context.Background()
	r, err := Init(ctx, Options{Storage: memory.New(), Compression: CompressS2})
	if err != nil {
		t.Fatal(err)
	}
	plain := walLike(1 << 20)
	g := r.NewGrowingFile("k")
	if _, err := g.Put(ctx, bytes.NewReader(plain), 4096); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Put(ctx, bytes.NewReader(plain), 100); err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Fatalf("shrinking file: %v", err)
	}
	if _, err := g.Put(ctx, bytes.NewReader(plain[:200000]), 300000); err == nil {
		t.Fatal("a file shorter than the size asked for was stored")
	}
	var got bytes.Buffer
	if _, err := r.ReadObject(ctx, "k", &got); err != nil || !bytes.Equal(got.Bytes(), plain[:4096]) {
		t.Fatalf("a failed Put changed the stored version: %d bytes, %v", got.Len(), err)
	}
	// The failed read left no partial state behind: the next version is whole.
	if _, err := g.Put(ctx, bytes.NewReader(plain), 500000); err != nil {
		t.Fatal(err)
	}
	got.Reset()
	if _, err := r.ReadObject(ctx, "k", &got); err != nil || !bytes.Equal(got.Bytes(), plain[:500000]) {
		t.Fatalf("after a failed Put: %d bytes, %v", got.Len(), err)
	}
	if _, err := g.Put(ctx, failingReaderAt{}, 600000); !errors.Is(err, errRead) {
		t.Fatalf("read error not returned: %v", err)
	}
}

var errRead = errors.New("read failed")

type failingReaderAt struct{}

func (failingReaderAt) ReadAt([]byte, int64) (int, error) { return 0, errRead }

var _ io.ReaderAt = failingReaderAt{}
