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
	werr := inFrames(nframes, workers, body, func(i int) ([]byte, error) {
		off := int64(i) * frameSize
		n := min(frameSize, size-off)
		if i == 0 {
			return nil, c.compressRange(body, src, off, n)
		}
		var buf bytes.Buffer
		buf.Grow(int(n / 8)) // most WAL fits: a fresh process pays a page fault per 4 KiB
		err := c.compressRange(&buf, src, off, n)
		return buf.Bytes(), err
	})
	if herr := <-hashed; werr == nil {
		werr = herr
	}
	if werr != nil {
		return Digest{}, werr
	}
	d := digestOf(h)
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

	werr := inFrames((len(data)+frameSize-1)/frameSize, workers, body, func(i int) ([]byte, error) {
		plain := data[i*frameSize : min(len(data), (i+1)*frameSize)]
		return zstdEncodeAll(make([]byte, 0, len(plain)/8), plain, c.Level)
	})
	<-hashed
	if werr != nil {
		return Digest{}, werr
	}
	d := digestOf(h)
	return d, endObject(w, seal, uint64(len(data)), d)
}

// inFrames runs encode for frames 0 to n-1, up to workers at a time, and
// writes each frame's output to body in order. encode may write frame 0 to
// body itself and return nothing, as nothing comes before it. Every worker
// stays busy while a frame is written out, but at most workers+1 frames'
// output is held in memory. It returns the first error.
func inFrames(n, workers int, body io.Writer, encode func(i int) ([]byte, error)) error {
	type frame struct {
		out  []byte
		err  error
		done chan struct{}
	}
	frames := make([]*frame, n)
	sem := make(chan struct{}, workers)
	launched := 0
	launch := func() {
		f := &frame{done: make(chan struct{})}
		frames[launched] = f
		i := launched
		go func() {
			defer close(f.done)
			sem <- struct{}{}
			defer func() { <-sem }()
			f.out, f.err = encode(i)
		}()
		launched++
	}
	var err error
	for i := range frames {
		for launched < n && launched <= i+workers {
			launch()
		}
		f := frames[i]
		<-f.done
		if err == nil {
			err = f.err
		}
		if err == nil && len(f.out) > 0 {
			_, err = body.Write(f.out)
		}
		frames[i] = nil
	}
	return err
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
