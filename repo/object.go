package repo

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Object layout (all integers big-endian):
//
//	header   "PGKO" | version 1 | compression id | cipher id (0 none, 1 aes-256-gcm) | 0
//	         [32-byte per-object salt when encrypted]
//	body     compressed plain bytes; when encrypted, sealed in 64 KiB chunks
//	         (AES-256-GCM, per-object key from HKDF(repository key, salt),
//	         nonce = chunk counter + final flag, header as associated data)
//	trailer  plain size (8) | digest (32) | "PGKE"
//
// The digest is SHA-256 of the plain bytes, or HMAC-SHA256 under the
// repository's MAC key when encrypted (a plain hash would let anyone with
// read access confirm guesses of the content). It sits in a trailer so that
// objects can be written as a stream; readers verify it at the end and
// callers act on the data only after a nil error.

const (
	headerLen  = 8
	saltLen    = 32
	trailerLen = 8 + sha256.Size + 4
)

var (
	headerMagic  = []byte("PGKO")
	trailerMagic = []byte("PGKE")
)

// ErrCorrupt: an object's bytes fail decoding or verification.
var ErrCorrupt = errors.New("corrupt object")

// Digest identifies an object's plain content.
type Digest [sha256.Size]byte

func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// Codec encodes and decodes objects with one repository's settings.
type Codec struct {
	Compression Compression
	Level       int
	// Concurrency is the number of goroutines compressing one object; 0
	// lets the compressor choose (all cores). Callers that already encode
	// many objects in parallel set 1.
	Concurrency int
	keys        *keys // nil: not encrypted
}

// WithConcurrency returns a copy of the codec compressing each object
// with n goroutines.
func (c *Codec) WithConcurrency(n int) *Codec {
	cp := *c
	cp.Concurrency = n
	return &cp
}

// Encrypted reports whether the codec encrypts.
func (c *Codec) Encrypted() bool { return c.keys != nil }

// NewHash returns the digest function of this repository.
func (c *Codec) NewHash() hash.Hash {
	if c.keys != nil {
		return c.keys.newHash()
	}
	return sha256.New()
}

// Digest returns the digest of plain.
func (c *Codec) Digest(plain []byte) Digest {
	h := c.NewHash()
	h.Write(plain)
	return digestOf(h)
}

// digestOf returns what h (a hash from NewHash) has summed so far.
func digestOf(h hash.Hash) Digest {
	var d Digest
	copy(d[:], h.Sum(nil))
	return d
}

// ObjectWriter encodes plain bytes into an object.
type ObjectWriter struct {
	out    io.Writer // the destination
	seal   *sealWriter
	comp   io.WriteCloser
	hash   hash.Hash
	size   uint64
	digest Digest
}

// NewWriter writes the header to w and returns a writer for the plain bytes.
// Close writes the trailer; w itself is not closed.
func (c *Codec) NewWriter(w io.Writer) (*ObjectWriter, error) {
	body, seal, err := c.newBody(w)
	if err != nil {
		return nil, err
	}
	comp, err := newCompressor(body, c.Compression, c.Level, c.Concurrency)
	if err != nil {
		return nil, err
	}
	return &ObjectWriter{out: w, seal: seal, comp: comp, hash: c.NewHash()}, nil
}

// newBody writes the object header to w and returns the writer of the
// compressed body: w itself, or a sealer (to be closed after the body)
// when the repository is encrypted.
func (c *Codec) newBody(w io.Writer) (io.Writer, *sealWriter, error) {
	hdr := []byte{'P', 'G', 'K', 'O', 1, byte(c.Compression), 0, 0}
	var seal *sealWriter
	if c.keys != nil {
		hdr[6] = 1
		salt := make([]byte, saltLen)
		if _, err := rand.Read(salt); err != nil {
			return nil, nil, err
		}
		hdr = append(hdr, salt...)
		aead, err := c.keys.objectAEAD(salt)
		if err != nil {
			return nil, nil, err
		}
		seal = &sealWriter{w: w, aead: aead, aad: hdr, buf: make([]byte, 0, chunkSize)}
	}
	if _, err := w.Write(hdr); err != nil {
		return nil, nil, err
	}
	if seal != nil {
		return seal, seal, nil
	}
	return w, nil, nil
}

// Write implements io.Writer.
func (o *ObjectWriter) Write(p []byte) (int, error) {
	o.hash.Write(p)
	o.size += uint64(len(p))
	return o.comp.Write(p)
}

// Close flushes the body and writes the trailer.
func (o *ObjectWriter) Close() error {
	if err := o.comp.Close(); err != nil {
		return err
	}
	o.digest = digestOf(o.hash)
	return endObject(o.out, o.seal, o.size, o.digest)
}

// endObject ends an object whose body is written: it closes the sealer of
// an encrypted body (seal may be nil) and writes the trailer to w.
func endObject(w io.Writer, seal *sealWriter, size uint64, d Digest) error {
	if seal != nil {
		if err := seal.Close(); err != nil {
			return err
		}
	}
	_, err := w.Write(encodeTrailer(size, d))
	return err
}

// Digest is the plain content's digest, valid after Close.
func (o *ObjectWriter) Digest() Digest { return o.digest }

// Size is the number of plain bytes written.
func (o *ObjectWriter) Size() int64 { return int64(o.size) }

func encodeTrailer(size uint64, d Digest) []byte {
	t := make([]byte, 0, trailerLen)
	t = binary.BigEndian.AppendUint64(t, size)
	t = append(t, d[:]...)
	return append(t, trailerMagic...)
}

// ParseTrailer decodes the last trailerLen bytes of an object.
func ParseTrailer(t []byte) (size int64, d Digest, err error) {
	if len(t) != trailerLen || !bytes.Equal(t[trailerLen-4:], trailerMagic) {
		return 0, d, fmt.Errorf("%w: bad trailer", ErrCorrupt)
	}
	copy(d[:], t[8:8+sha256.Size])
	return int64(binary.BigEndian.Uint64(t[:8])), d, nil
}

// Encode returns the whole encoded object of plain and its digest.
func (c *Codec) Encode(plain []byte) ([]byte, Digest, error) {
	var buf bytes.Buffer
	buf.Grow(len(plain)/4 + 1024)
	if zstdOneShot && c.Compression == CompressZstd && c.Concurrency == 1 {
		// One call for the whole body: the encoder reads plain in place.
		body, seal, err := c.newBody(&buf)
		if err != nil {
			return nil, Digest{}, err
		}
		d := c.Digest(plain)
		comp, err := zstdEncodeAll(nil, plain, c.Level)
		if err != nil {
			return nil, Digest{}, err
		}
		if _, err := body.Write(comp); err != nil {
			return nil, Digest{}, err
		}
		if err := endObject(&buf, seal, uint64(len(plain)), d); err != nil {
			return nil, Digest{}, err
		}
		return buf.Bytes(), d, nil
	}
	w, err := c.NewWriter(&buf)
	if err != nil {
		return nil, Digest{}, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, Digest{}, err
	}
	if err := w.Close(); err != nil {
		return nil, Digest{}, err
	}
	return buf.Bytes(), w.Digest(), nil
}
