package repo

import (
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Compression identifies how an object's body is compressed. The id is
// stored in every object's header, so objects of different compressions
// coexist in one repository and the setting can change at any time.
type Compression byte

// Compression ids; never renumber: they are on disk.
const (
	CompressNone Compression = 0
	CompressZstd Compression = 1
	CompressS2   Compression = 2
	CompressGzip Compression = 3
)

var compressionNames = map[string]Compression{
	"none": CompressNone, "zstd": CompressZstd, "s2": CompressS2, "gzip": CompressGzip,
}

// ParseCompression maps a config name to its id.
func ParseCompression(name string) (Compression, error) {
	c, ok := compressionNames[name]
	if !ok {
		return 0, fmt.Errorf("unknown compression %q (want zstd, s2, gzip or none)", name)
	}
	return c, nil
}

func (c Compression) String() string {
	for name, id := range compressionNames {
		if id == c {
			return name
		}
	}
	return fmt.Sprintf("compression(%d)", byte(c))
}

// nopWriteCloser turns an io.Writer into an io.WriteCloser whose Close does nothing.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// newCompressor returns a writer compressing into w; Close flushes it
// without closing w.
func newCompressor(w io.Writer, c Compression, level, concurrency int) (io.WriteCloser, error) {
	switch c {
	case CompressNone:
		return nopWriteCloser{w}, nil
	case CompressZstd:
		return getZstd(w, zstdLevel(level), concurrency)
	case CompressS2:
		return getS2(w, level, concurrency)
	case CompressGzip:
		if level == 0 {
			level = 6
		}
		return gzip.NewWriterLevel(w, level)
	}
	return nil, fmt.Errorf("unknown compression id %d", c)
}

// newDecompressor returns a reader of the plain bytes compressed in r.
func newDecompressor(r io.Reader, c Compression) (io.ReadCloser, error) {
	switch c {
	case CompressNone:
		return io.NopCloser(r), nil
	case CompressZstd:
		return getZstdReader(r)
	case CompressS2:
		return io.NopCloser(s2.NewReader(r)), nil
	case CompressGzip:
		return gzip.NewReader(r)
	}
	return nil, fmt.Errorf("unknown compression id %d", c)
}

// zstdWindow is the zstd window size for every object.
const zstdWindow = 2 << 20

// Compressors are costly to build (zstd's tables, s2's block buffers):
// they are kept in pools per codec, level and concurrency, so that many
// small objects do not each pay for one.
type poolKey struct {
	c                  Compression
	level, concurrency int
}

var writerPools sync.Map // poolKey -> *sync.Pool

// resettable is a compressor that can start over on another writer.
type resettable interface {
	io.WriteCloser
	Reset(io.Writer)
}

type pooledWriter[W resettable] struct {
	w    W
	pool *sync.Pool
}

func (p *pooledWriter[W]) Write(b []byte) (int, error) { return p.w.Write(b) }

// Close ends the stream and returns the compressor to its pool.
func (p *pooledWriter[W]) Close() error {
	err := p.w.Close()
	p.w.Reset(nil)
	p.pool.Put(p.w)
	return err
}

// pooled returns a compressor writing to w from the pool of key, or a new
// one from build.
func pooled[W resettable](key poolKey, w io.Writer, build func() (W, error)) (io.WriteCloser, error) {
	pool := poolOf(key)
	if pw, ok := pool.Get().(W); ok {
		pw.Reset(w)
		return &pooledWriter[W]{pw, pool}, nil
	}
	pw, err := build()
	if err != nil {
		return nil, err
	}
	pw.Reset(w)
	return &pooledWriter[W]{pw, pool}, nil
}

// zstdLevel is the zstd level to compress at: level, or 3 (zstd's and
// pgBackRest's default) for 0.
func zstdLevel(level int) int {
	if level == 0 {
		return 3
	}
	return level
}

// poolOf returns the pool of compressors of key.
func poolOf(key poolKey) *sync.Pool {
	pi, _ := writerPools.LoadOrStore(key, &sync.Pool{})
	return pi.(*sync.Pool)
}

// zstdEncodeAll appends src compressed as one zstd frame to dst, in one call:
// no copy of src into the encoder's history, as a stream needs. The
// encoder comes from the pool of single-goroutine streams (both kinds of
// use leave it ready for the other).
func zstdEncodeAll(dst, src []byte, level int) ([]byte, error) {
	level = zstdLevel(level)
	pool := poolOf(poolKey{CompressZstd, level, 1})
	e, ok := pool.Get().(*zstdEncoder)
	if !ok {
		var err error
		if e, err = newZstdEncoder(level, 1); err != nil {
			return nil, err
		}
	}
	dst, err := e.encodeAll(dst, src)
	if err == nil {
		pool.Put(e)
	}
	return dst, err
}

func getZstd(w io.Writer, level, concurrency int) (io.WriteCloser, error) {
	return pooled(poolKey{CompressZstd, level, concurrency}, w, func() (*zstdEncoder, error) {
		return newZstdEncoder(level, concurrency)
	})
}

func getS2(w io.Writer, level, concurrency int) (io.WriteCloser, error) {
	return pooled(poolKey{CompressS2, level, concurrency}, w, func() (*s2.Writer, error) {
		var opts []s2.WriterOption
		if concurrency > 0 {
			opts = append(opts, s2.WriterConcurrency(concurrency))
		}
		switch level {
		case 2:
			opts = append(opts, s2.WriterBetterCompression())
		case 3:
			opts = append(opts, s2.WriterBestCompression())
		}
		return s2.NewWriter(w, opts...), nil
	})
}

// zstd decoders are pooled like the encoders: a restore decodes thousands
// of parts. They skip zstd's own frame checksum: every object carries a
// SHA-256 (or HMAC) of its plain bytes, verified at its end.
var zstdReaders sync.Pool // of *zstd.Decoder

type pooledZstdReader struct{ d *zstd.Decoder }

func (p *pooledZstdReader) Read(b []byte) (int, error) {
	if p.d == nil {
		return 0, io.ErrClosedPipe
	}
	return p.d.Read(b)
}

// Close returns the decoder to its pool.
func (p *pooledZstdReader) Close() error {
	if p.d != nil {
		p.d.Reset(nil)
		zstdReaders.Put(p.d)
		p.d = nil
	}
	return nil
}

func getZstdReader(r io.Reader) (io.ReadCloser, error) {
	if d, ok := zstdReaders.Get().(*zstd.Decoder); ok {
		if err := d.Reset(r); err != nil {
			return nil, err
		}
		return &pooledZstdReader{d}, nil
	}
	d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(false), zstd.IgnoreChecksum(true))
	if err != nil {
		return nil, err
	}
	return &pooledZstdReader{d}, nil
}
