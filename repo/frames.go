package repo

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
)

// frameSize is the plain bytes per zstd frame when a file is compressed
// in parallel. A frame starts with an empty history, so smaller frames
// cost ratio; at 8 MiB (four 2 MiB windows) the loss is ~0.1% on WAL.
const frameSize = 8 << 20

// copyBufSize is the read size of the streaming paths.
const copyBufSize = 256 << 10

// EncodeFile writes the object of the size bytes of src to w and returns
// the digest of those bytes. With zstd and more than one worker, a file of
// several frames is compressed as independent frames, up to workers at a
// time, while another goroutine computes the digest; zstd frames
// concatenate into one stream, so readers cannot tell the difference.
// Otherwise the file is encoded as one stream. workers <= 0 means one per
// core.
//
// The digest and the frames read src separately: src must not change
// while EncodeFile runs (a finished WAL segment or spooled file does not).
func (c *Codec) EncodeFile(w io.Writer, src io.ReaderAt, size int64, workers int) (Digest, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	nframes := int((size + frameSize - 1) / frameSize)
	if c.Compression != CompressZstd || workers < 2 || nframes < 2 {
		return c.encodeStream(w, src, size)
	}
	if zstdOneShot {
		if data, unmap, err := mapFile(src, size); err == nil {
			defer unmap()
			return c.encodeMapped(w, data, workers)
		}
	}
	body, seal, err := c.newBody(w)
	if err != nil {
		return Digest{}, err
	}
	hashed := make(chan error, 1)
	h := c.NewHash()
	go func() { hashed <- readAllInto(h, src, 0, size) }()

	type frame struct {
		buf  bytes.Buffer
		err  error
		done chan struct{}
	}
	frames := make([]*frame, nframes)
	sem := make(chan struct{}, workers)
	launched := 0
	launch := func() {
		f := &frame{done: make(chan struct{})}
		frames[launched] = f
		off := int64(launched) * frameSize
		n := min(frameSize, size-off)
		// The first frame goes straight to body: nothing is written
		// before it. The others wait in memory for their turn.
		first := launched == 0
		go func() {
			defer close(f.done)
			sem <- struct{}{}
			defer func() { <-sem }()
			if first {
				f.err = c.compressRange(body, src, off, n)
				return
			}
			f.buf.Grow(int(n / 8)) // most WAL fits: a fresh process pays a page fault per 4 KiB
			f.err = c.compressRange(&f.buf, src, off, n)
		}()
		launched++
	}
	var werr error
	for i := range frames {
		// Keep every worker busy while frame i is written out, but
		// hold at most workers+1 frames' output in memory.
		for launched < nframes && launched <= i+workers {
			launch()
		}
		f := frames[i]
		<-f.done
		if werr == nil {
			werr = f.err
		}
		if werr == nil && i > 0 {
			_, werr = body.Write(f.buf.Bytes())
		}
		frames[i] = nil
	}
	if herr := <-hashed; werr == nil {
		werr = herr
	}
	if werr != nil {
		return Digest{}, werr
	}
	var d Digest
	copy(d[:], h.Sum(nil))
	return d, endObject(w, seal, uint64(size), d)
}

// encodeMapped is EncodeFile of a file mapped into memory: each frame is
// compressed in one call straight from the mapping, up to workers at a
// time, while another goroutine hashes it; frames are written in order.
func (c *Codec) encodeMapped(w io.Writer, data []byte, workers int) (Digest, error) {
	body, seal, err := c.newBody(w)
	if err != nil {
		return Digest{}, err
	}
	h := c.NewHash()
	hashed := make(chan struct{})
	go func() { h.Write(data); close(hashed) }()

	type frame struct {
		out  []byte
		err  error
		done chan struct{}
	}
	nframes := (len(data) + frameSize - 1) / frameSize
	frames := make([]*frame, nframes)
	sem := make(chan struct{}, workers)
	for i := range frames {
		f := &frame{done: make(chan struct{})}
		frames[i] = f
		plain := data[i*frameSize : min(len(data), (i+1)*frameSize)]
		go func() {
			defer close(f.done)
			sem <- struct{}{}
			defer func() { <-sem }()
			f.out, f.err = zstdEncodeAll(make([]byte, 0, len(plain)/8), plain, c.Level)
		}()
	}
	var werr error
	for i, f := range frames {
		<-f.done
		if werr == nil {
			werr = f.err
		}
		if werr == nil {
			_, werr = body.Write(f.out)
		}
		frames[i] = nil
	}
	<-hashed
	if werr != nil {
		return Digest{}, werr
	}
	var d Digest
	copy(d[:], h.Sum(nil))
	return d, endObject(w, seal, uint64(len(data)), d)
}

// encodeStream is EncodeFile on one goroutine's stream.
func (c *Codec) encodeStream(w io.Writer, src io.ReaderAt, size int64) (Digest, error) {
	ow, err := c.NewWriter(w)
	if err != nil {
		return Digest{}, err
	}
	if err := readAllInto(ow, src, 0, size); err != nil {
		return Digest{}, err
	}
	if err := ow.Close(); err != nil {
		return Digest{}, err
	}
	return ow.Digest(), nil
}

// compressRange writes one compressed frame of n bytes of src at off to w.
func (c *Codec) compressRange(w io.Writer, src io.ReaderAt, off, n int64) error {
	comp, err := newCompressor(w, c.Compression, c.Level, 1)
	if err != nil {
		return err
	}
	if err := readAllInto(comp, src, off, n); err != nil {
		comp.Close()
		return err
	}
	return comp.Close()
}

// readAllInto copies exactly n bytes of src at off to w.
func readAllInto(w io.Writer, src io.ReaderAt, off, n int64) error {
	got, err := io.CopyBuffer(w, io.NewSectionReader(src, off, n), make([]byte, copyBufSize))
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("read %d bytes at offset %d, want %d: the file shrank", got, off, n)
	}
	return nil
}
