package repo

import (
	"bytes"
	"crypto/hmac"
	"errors"
	"fmt"
	"hash"
	"io"
)

// tailReader passes on all but the last n bytes of r; after EOF, Tail holds them.
type tailReader struct {
	r    io.Reader
	n    int
	buf  []byte // holds up to n bytes not yet passed on
	eof  bool
	tail []byte
}

func (t *tailReader) Read(p []byte) (int, error) {
	for {
		if len(t.buf) > t.n {
			k := copy(p, t.buf[:len(t.buf)-t.n])
			t.buf = t.buf[k:]
			return k, nil
		}
		if t.eof {
			t.tail = t.buf
			return 0, io.EOF
		}
		chunk := make([]byte, max(len(p), 32<<10))
		k, err := t.r.Read(chunk)
		t.buf = append(t.buf, chunk[:k]...)
		if err == io.EOF {
			t.eof = true
		} else if err != nil {
			return 0, err
		}
	}
}

// ObjectReader decodes an object; its Read returns io.EOF only after the
// trailer's size and digest matched.
type ObjectReader struct {
	tail   *tailReader
	body   io.Reader // after decryption
	plain  io.ReadCloser
	hash   hash.Hash
	size   uint64
	digest Digest
	done   bool
}

// NewReader reads the header from r and returns a reader of the plain bytes.
func (c *Codec) NewReader(r io.Reader) (*ObjectReader, error) {
	hdr := make([]byte, headerLen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("%w: short header: %v", ErrCorrupt, err)
	}
	if !bytes.Equal(hdr[:4], headerMagic) || hdr[4] != 1 {
		return nil, fmt.Errorf("%w: not a pgkeep object (bad magic or version)", ErrCorrupt)
	}
	or := &ObjectReader{tail: &tailReader{r: r, n: trailerLen}, hash: c.NewHash()}
	or.body = or.tail
	switch hdr[6] {
	case 0:
		if c.keys != nil {
			return nil, fmt.Errorf("%w: object is not encrypted but the repository is", ErrCorrupt)
		}
	case 1:
		if c.keys == nil {
			return nil, fmt.Errorf("%w: object is encrypted but no passphrase was given", ErrCorrupt)
		}
		salt := make([]byte, saltLen)
		if _, err := io.ReadFull(r, salt); err != nil {
			return nil, fmt.Errorf("%w: short header: %v", ErrCorrupt, err)
		}
		aead, err := c.keys.objectAEAD(salt)
		if err != nil {
			return nil, err
		}
		or.body = &openReader{r: or.tail, aead: aead, aad: append(hdr, salt...)}
	default:
		return nil, fmt.Errorf("%w: unknown cipher id %d", ErrCorrupt, hdr[6])
	}
	plain, err := newDecompressor(or.body, Compression(hdr[5]))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	or.plain = plain
	return or, nil
}

// Read implements io.Reader.
func (o *ObjectReader) Read(p []byte) (int, error) {
	if o.done {
		return 0, io.EOF
	}
	n, err := o.plain.Read(p)
	o.hash.Write(p[:n])
	o.size += uint64(n)
	if err == io.EOF {
		if verr := o.verify(); verr != nil {
			return n, verr
		}
		o.done = true
		return n, io.EOF
	}
	if err != nil && !errors.Is(err, ErrCorrupt) {
		err = fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return n, err
}

// verify drains the body and checks the trailer against what was read.
func (o *ObjectReader) verify() error {
	o.plain.Close()
	for _, r := range []io.Reader{o.body, o.tail} {
		if n, err := io.Copy(io.Discard, r); err != nil || n != 0 {
			return fmt.Errorf("%w: data after the end of the compressed stream (%d bytes, %v)", ErrCorrupt, n, err)
		}
	}
	size, want, err := ParseTrailer(o.tail.tail)
	if err != nil {
		return err
	}
	o.digest = digestOf(o.hash)
	if uint64(size) != o.size {
		return fmt.Errorf("%w: size %d, trailer says %d", ErrCorrupt, o.size, size)
	}
	if !hmac.Equal(o.digest[:], want[:]) {
		return fmt.Errorf("%w: checksum mismatch: stored %s, computed %s", ErrCorrupt, want, o.digest)
	}
	return nil
}

// Digest is the verified digest, valid after Read returned io.EOF.
func (o *ObjectReader) Digest() Digest { return o.digest }

// Decode decodes a whole object held in memory.
func (c *Codec) Decode(obj []byte) ([]byte, Digest, error) {
	r, err := c.NewReader(bytes.NewReader(obj))
	if err != nil {
		return nil, Digest{}, err
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		return nil, Digest{}, err
	}
	return plain, r.Digest(), nil
}
