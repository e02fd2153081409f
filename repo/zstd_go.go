//go:build !(cgo && libzstd)

package repo

import (
	"github.com/klauspost/compress/zstd"
)

// ZstdLibrary names the C library zstd objects are compressed with, or is
// empty when the pure-Go encoder (klauspost/compress) does it.
const ZstdLibrary = ""

// zstdOneShot says whether compressing a whole buffer in one call
// (zstdEncodeAll) beats streaming it. Not here: the pure-Go encoder streams
// WAL-like data 10% faster (BenchmarkCodecEncode), and the digest, computed
// chunk by chunk beside it, reads each chunk while it is in the cache.
const zstdOneShot = false

// zstdEncoder is the pure-Go zstd encoder.
type zstdEncoder struct{ *zstd.Encoder }

func newZstdEncoder(level, concurrency int) (*zstdEncoder, error) {
	// A 2 MiB window, as libzstd uses at level 3: the ratio is the same on
	// WAL and relation files, and each encoder touches far less memory
	// (page faults dominate a one-shot archive-push otherwise). No zstd
	// frame checksum: the object's SHA-256 (or HMAC) covers the plain bytes.
	opts := []zstd.EOption{zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)), zstd.WithWindowSize(zstdWindow), zstd.WithEncoderCRC(false)}
	if concurrency > 0 {
		opts = append(opts, zstd.WithEncoderConcurrency(concurrency))
	}
	e, err := zstd.NewWriter(nil, opts...)
	if err != nil {
		return nil, err
	}
	return &zstdEncoder{e}, nil
}

func (e *zstdEncoder) encodeAll(dst, src []byte) ([]byte, error) {
	return e.EncodeAll(src, dst), nil
}
