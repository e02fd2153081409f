package repo

import (
	"bytes"
	"context"
	"fmt"
	"hash"
	"io"
)

// GrowingFile stores successive versions of a file that only grows at its
// end, such as the WAL segment being received, which is stored as
// <segment>.partial every few seconds until it is complete. Every version
// is a whole object under the same key, but only the bytes added since the
// previous version are read, compressed and hashed: the compressed stream
// of the rest and the state of its digest are kept in memory. That works
// because every codec's streams concatenate: a version's body is the
// streams of all earlier additions, one after the other.
//
// The bytes of the file up to the last stored size must not change. A
// GrowingFile is not safe for concurrent use.
type GrowingFile struct {
	r    *Repo
	key  string
	body bytes.Buffer // compressed streams of the first size bytes
	hash hash.Hash    // over the first size bytes
	size int64
}

// NewGrowingFile returns a GrowingFile that stores versions under key with
// r's codec.
func (r *Repo) NewGrowingFile(key string) *GrowingFile {
	return &GrowingFile{r: r, key: key, hash: r.codec.NewHash()}
}

// Key is the object's key.
func (g *GrowingFile) Key() string { return g.key }

// Put stores the first size bytes of src under the key, replacing the
// version stored before, and returns their digest. It reads only the bytes
// past the size of the previous call. A size below that is an error; so is
// a src that ends early, after which the next Put starts from scratch.
func (g *GrowingFile) Put(ctx context.Context, src io.ReaderAt, size int64) (Digest, error) {
	if err := g.grow(src, size); err != nil {
		return Digest{}, fmt.Errorf("encode %s: %w", g.key, err)
	}
	d := digestOf(g.hash)
	c := g.r.codec
	_, _, err := g.r.putEncoded(ctx, g.key, false, func(w io.Writer) (Digest, int64, error) {
		body, seal, err := c.newBody(w)
		if err != nil {
			return Digest{}, 0, err
		}
		if _, err := body.Write(g.body.Bytes()); err != nil {
			return Digest{}, 0, err
		}
		return d, size, endObject(w, seal, uint64(size), d)
	})
	if err != nil {
		return Digest{}, err
	}
	return d, nil
}

// grow compresses and hashes the bytes of src from g.size to size as one
// more stream of the body.
func (g *GrowingFile) grow(src io.ReaderAt, size int64) error {
	if size < g.size {
		return fmt.Errorf("the file shrank from %d to %d bytes", g.size, size)
	}
	if size == g.size && g.body.Len() > 0 {
		return nil
	}
	comp, err := newCompressor(&g.body, g.r.codec.Compression, g.r.codec.Level, 1)
	if err == nil {
		err = readAllInto(io.MultiWriter(g.hash, comp), src, g.size, size-g.size)
		if cerr := comp.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		// The hash has taken part of the bytes: begin again next time.
		g.body.Reset()
		g.hash.Reset()
		g.size = 0
		return err
	}
	g.size = size
	return nil
}
