//go:build cgo && libzstd

package repo

/*
#cgo LDFLAGS: -l:libzstd.a
#include <stdlib.h>
#include <zstd.h>

// pk_stream runs one ZSTD_compressStream2 step. The buffers' positions
// travel as plain integers: a ZSTD_inBuffer built in Go memory would hold
// a Go pointer, which cgo does not allow to pass.
static size_t pk_stream(ZSTD_CCtx *c, void *dst, size_t cap, size_t *dpos,
                        const void *src, size_t n, size_t *spos, int end) {
	ZSTD_outBuffer out = { dst, cap, *dpos };
	ZSTD_inBuffer in = { src, n, *spos };
	size_t r = ZSTD_compressStream2(c, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
	*dpos = out.pos;
	*spos = in.pos;
	return r;
}

static size_t pk_params(ZSTD_CCtx *c, int level, int windowLog, int workers) {
	size_t r = ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
	if (ZSTD_isError(r)) return r;
	r = ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, windowLog);
	if (ZSTD_isError(r)) return r;
	r = ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 0);
	if (ZSTD_isError(r)) return r;
	if (workers > 1) {
		// A libzstd built without threads refuses; one thread then.
		ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, workers);
	}
	return 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"runtime"
	"unsafe"
)

// ZstdLibrary names the C library zstd objects are compressed with, or is
// empty when the pure-Go encoder (klauspost/compress) does it.
const ZstdLibrary = "libzstd " + C.ZSTD_VERSION_STRING

// zstdOneShot says whether compressing a whole buffer in one call
// (zstdEncodeAll) beats streaming it: with libzstd it does (4 MiB parts:
// 15% faster on table-like data, BenchmarkCodecEncode), and a mapped WAL
// segment is compressed without being read into buffers.
const zstdOneShot = true

// zstdEncoder is a streaming zstd compressor backed by libzstd, linked
// statically (build tag libzstd). It writes the same format as the pure-Go
// encoder, with the same window and without a frame checksum, so either
// build reads what the other wrote.
type zstdEncoder struct {
	cctx *C.ZSTD_CCtx
	w    io.Writer
	out  []byte
	err  error
}

func newZstdEncoder(level, concurrency int) (*zstdEncoder, error) {
	cctx := C.ZSTD_createCCtx()
	if cctx == nil {
		return nil, errors.New("libzstd: cannot create a compression context")
	}
	z := &zstdEncoder{cctx: cctx, out: make([]byte, int(C.ZSTD_CStreamOutSize()))}
	runtime.AddCleanup(z, func(c *C.ZSTD_CCtx) { C.ZSTD_freeCCtx(c) }, cctx)
	windowLog := bits.Len(uint(zstdWindow)) - 1
	if r := C.pk_params(cctx, C.int(level), C.int(windowLog), C.int(concurrency)); C.ZSTD_isError(r) != 0 {
		return nil, zstdError("set parameters", r)
	}
	return z, nil
}

// encodeAll compresses src in one ZSTD_compress2 call: libzstd then reads
// src in place, without copying it into its window buffer. The output
// goes first to C memory of the worst-case size, of which only the pages
// written are ever touched.
func (z *zstdEncoder) encodeAll(dst, src []byte) ([]byte, error) {
	bound := C.ZSTD_compressBound(C.size_t(len(src)))
	out := C.malloc(bound)
	if out == nil {
		return nil, errors.New("libzstd: out of memory")
	}
	defer C.free(out)
	var in unsafe.Pointer
	if len(src) > 0 {
		in = unsafe.Pointer(&src[0])
	}
	r := C.ZSTD_compress2(z.cctx, out, bound, in, C.size_t(len(src)))
	if C.ZSTD_isError(r) != 0 {
		return nil, zstdError("compress", r)
	}
	return append(dst, unsafe.Slice((*byte)(out), int(r))...), nil
}

func zstdError(what string, r C.size_t) error {
	return fmt.Errorf("libzstd: %s: %s", what, C.GoString(C.ZSTD_getErrorName(r)))
}

// step feeds p (possibly empty) to the compressor, writing out whatever
// it produces; with end it finishes the frame.
func (z *zstdEncoder) step(p []byte, end bool) error {
	if z.err != nil {
		return z.err
	}
	var src unsafe.Pointer
	if len(p) > 0 {
		src = unsafe.Pointer(&p[0])
	}
	var spos C.size_t
	flag := C.int(0)
	if end {
		flag = 1
	}
	for {
		var dpos C.size_t
		r := C.pk_stream(z.cctx, unsafe.Pointer(&z.out[0]), C.size_t(len(z.out)), &dpos, src, C.size_t(len(p)), &spos, flag)
		if C.ZSTD_isError(r) != 0 {
			z.err = zstdError("compress", r)
			return z.err
		}
		if dpos > 0 {
			if _, err := z.w.Write(z.out[:dpos]); err != nil {
				z.err = err
				return err
			}
		}
		// Done when the input is consumed and, at the end, the frame
		// is flushed (r == 0); otherwise the output buffer was full.
		if int(spos) == len(p) && (!end || r == 0) {
			return nil
		}
	}
}

func (z *zstdEncoder) Write(p []byte) (int, error) {
	if err := z.step(p, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close ends the frame; it does not close the underlying writer.
func (z *zstdEncoder) Close() error { return z.step(nil, true) }

// Reset drops any unfinished frame and starts over on w.
func (z *zstdEncoder) Reset(w io.Writer) {
	C.ZSTD_CCtx_reset(z.cctx, C.ZSTD_reset_session_only)
	z.w, z.err = w, nil
}
