package repo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// failingWriter accepts n bytes, then fails every write.
type failingWriter struct{ n int }

var errWriteFailed = errors.New("write failed")

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		f.n = 0
		return 0, errWriteFailed
	}
	f.n -= len(p)
	return len(p), nil
}

// TestZstdFormat holds the zstd encoder of either build (pure Go, or
// libzstd with -tags libzstd) to the format every reader expects: frames
// that the pure-Go decoder reads back byte-identical, a window of at most
// zstdWindow (what a restore's decoders are sized for), no zstd frame
// checksum (the object's own digest covers the bytes), and a pooled
// encoder that starts clean after a failed write.
func TestZstdFormat(t *testing.T) {
	t.Logf("zstd encoder: %q (empty: klauspost/compress)", ZstdLibrary)
	payloads := map[string][]byte{"wal-like": walLike(5<<20 + 4321), "table-like": tableLike(3 << 20), "empty": nil}
	for _, level := range []int{1, 3, 9} {
		// A write that fails half-way leaves the encoder in its pool; the
		// next object must not carry any of it.
		w, err := newCompressor(&failingWriter{n: 1000}, CompressZstd, level, 1)
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.Write(payloads["wal-like"])
		if err == nil {
			err = w.Close()
		} else {
			w.Close()
		}
		if !errors.Is(err, errWriteFailed) {
			t.Fatalf("level %d: a failing destination gave %v, want %v", level, err, errWriteFailed)
		}
		for name, plain := range payloads {
			var out bytes.Buffer
			w, err := newCompressor(&out, CompressZstd, level, 1)
			if err != nil {
				t.Fatal(err)
			}
			// Uneven writes, as the tar stream and the spool hand them on.
			for rest := plain; len(rest) > 0; {
				n := min(len(rest), 70001)
				if _, err := w.Write(rest[:n]); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			enc := out.Bytes()
			// The one-shot encoder (backup parts, mapped files) writes
			// the same format.
			all, err := zstdEncodeAll([]byte("kept"), plain, level)
			if err != nil || string(all[:4]) != "kept" {
				t.Fatalf("level %d, %s: encodeAll: %v", level, name, err)
			}
			if len(plain) > 0 {
				checkZstdHeader(t, all[4:])
				checkZstdDecode(t, all[4:], plain)
			}
			if len(plain) > 0 && len(enc) >= len(plain) {
				t.Errorf("level %d, %s: %d bytes compressed to %d", level, name, len(plain), len(enc))
			}
			checkZstdHeader(t, enc)
			checkZstdDecode(t, enc, plain)
		}
	}
}

// checkZstdDecode checks that the pure-Go decoder reads enc back as plain.
func checkZstdDecode(t *testing.T, enc, plain []byte) {
	t.Helper()
	d, err := zstd.NewReader(bytes.NewReader(enc))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := io.ReadAll(d)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("decoded %d bytes (want %d), equal %v, err %v", len(got), len(plain), bytes.Equal(got, plain), err)
	}
}

func TestMapFile(t *testing.T) {
	plain := walLike(3 << 20)
	data, unmap, err := mapFile(testSource(t, "file", plain), int64(len(plain)))
	if runtime.GOOS != "linux" {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("mapFile on %s: %v", runtime.GOOS, err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer unmap()
	if !bytes.Equal(data, plain) {
		t.Fatal("the mapping differs from the file")
	}
	// Anything but a file long enough is read through buffers.
	for name, src := range map[string]io.ReaderAt{"reader": bytes.NewReader(plain), "short file": testSource(t, "file", plain[:100])} {
		if _, _, err := mapFile(src, int64(len(plain))); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("mapFile of a %s: %v", name, err)
		}
	}
}

// checkZstdHeader checks the frame header at the start of b: the zstd
// magic, no content checksum, and a window of at most zstdWindow.
func checkZstdHeader(t *testing.T, b []byte) {
	t.Helper()
	if len(b) < 6 || binary.LittleEndian.Uint32(b) != 0xFD2FB528 {
		t.Fatalf("not a zstd frame: % x", b[:min(len(b), 8)])
	}
	fhd := b[4]
	if fhd&0x04 != 0 {
		t.Errorf("frame carries a zstd content checksum (descriptor %#x)", fhd)
	}
	if fhd&0x20 != 0 {
		return // single segment: the window is the content size, known to the decoder
	}
	exp, mantissa := uint64(b[5]>>3), uint64(b[5]&7)
	base := uint64(1) << (10 + exp)
	if window := base + base/8*mantissa; window > zstdWindow {
		t.Errorf("window %d bytes, more than %d", window, zstdWindow)
	}
}
