package repo

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"

	"golang.org/x/crypto/hkdf"
	"golang.org/x/crypto/scrypt"
)

// CipherParams is the public part of a repository's encryption settings,
// stored in pgkeep.json. It never holds a key.
type CipherParams struct {
	Type     string `json:"type"` // "aes-256-gcm"
	KDF      string `json:"kdf"`  // "scrypt"
	N        int    `json:"n"`
	R        int    `json:"r"`
	P        int    `json:"p"`
	Salt     []byte `json:"salt"`
	KeyCheck []byte `json:"key-check"` // HMAC of a constant under the MAC key
}

// ErrWrongPassphrase: the passphrase does not open this repository.
var ErrWrongPassphrase = errors.New("wrong repository cipher passphrase")

const keyCheckText = "pgkeep repository key check"

// keys are the secrets derived from the passphrase.
type keys struct {
	enc []byte // input to the per-object key derivation
	mac []byte // HMAC key for object digests
}

func newCipherParams(pass []byte) (*CipherParams, *keys, error) {
	p := &CipherParams{Type: "aes-256-gcm", KDF: "scrypt", N: 1 << 15, R: 8, P: 1, Salt: make([]byte, 32)}
	if _, err := rand.Read(p.Salt); err != nil {
		return nil, nil, err
	}
	k, err := p.derive(pass)
	if err != nil {
		return nil, nil, err
	}
	p.KeyCheck = k.check()
	return p, k, nil
}

func (p *CipherParams) derive(pass []byte) (*keys, error) {
	if p.Type != "aes-256-gcm" || p.KDF != "scrypt" {
		return nil, fmt.Errorf("unsupported cipher %s/%s", p.Type, p.KDF)
	}
	if len(pass) == 0 {
		return nil, errors.New("empty cipher passphrase")
	}
	km, err := scrypt.Key(pass, p.Salt, p.N, p.R, p.P, 64)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	return &keys{enc: km[:32], mac: km[32:]}, nil
}

// open derives the keys and checks them against KeyCheck.
func (p *CipherParams) open(pass []byte) (*keys, error) {
	k, err := p.derive(pass)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(k.check(), p.KeyCheck) {
		return nil, ErrWrongPassphrase
	}
	return k, nil
}

func (k *keys) check() []byte {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte(keyCheckText))
	return m.Sum(nil)
}

func (k *keys) newHash() hash.Hash { return hmac.New(sha256.New, k.mac) }

// objectAEAD derives the AES-256-GCM instance of one object from its salt.
func (k *keys) objectAEAD(salt []byte) (cipher.AEAD, error) {
	key := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, k.enc, salt, []byte("pgkeep object")), key); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// chunkSize is the plaintext size of one sealed chunk.
const chunkSize = 64 << 10

// chunkNonce is the 96-bit GCM nonce of chunk i: an 88-bit counter and a
// final-chunk flag, so chunks cannot be reordered, dropped or truncated.
func chunkNonce(i uint64, last bool) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[3:11], i)
	if last {
		n[11] = 1
	}
	return n
}

// sealWriter encrypts what is written to it into w in sealed chunks.
type sealWriter struct {
	w    io.Writer
	aead cipher.AEAD
	aad  []byte
	buf  []byte
	n    uint64
}

func (s *sealWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		// Keep a full chunk buffered until more arrives: the final chunk
		// must carry the last flag.
		if len(s.buf) == chunkSize {
			if err := s.flush(false); err != nil {
				return 0, err
			}
		}
		n := copy(s.buf[len(s.buf):chunkSize], p)
		s.buf = s.buf[:len(s.buf)+n]
		p = p[n:]
	}
	return total, nil
}

func (s *sealWriter) flush(last bool) error {
	out := s.aead.Seal(nil, chunkNonce(s.n, last), s.buf, s.aad)
	s.n++
	s.buf = s.buf[:0]
	_, err := s.w.Write(out)
	return err
}

// Close seals the final chunk (possibly empty). It does not close w.
func (s *sealWriter) Close() error { return s.flush(true) }

// openReader decrypts sealed chunks from r.
type openReader struct {
	r    io.Reader
	aead cipher.AEAD
	aad  []byte
	in   []byte
	buf  []byte // backing array of out
	out  []byte
	n    uint64
	done bool
}

func (o *openReader) Read(p []byte) (int, error) {
	for len(o.out) == 0 {
		if o.done {
			return 0, io.EOF
		}
		if err := o.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, o.out)
	o.out = o.out[n:]
	return n, nil
}

// next reads one sealed chunk. A chunk shorter than a full one must be the
// last; a full one may be either, which the nonce flag decides.
func (o *openReader) next() error {
	sealed := chunkSize + o.aead.Overhead()
	if cap(o.in) < sealed {
		o.in = make([]byte, sealed)
	}
	n, err := io.ReadFull(o.r, o.in[:sealed])
	if err != nil && err != io.ErrUnexpectedEOF {
		if err == io.EOF {
			return fmt.Errorf("%w: encrypted stream truncated", ErrCorrupt)
		}
		return err
	}
	for _, last := range []bool{n < sealed, true} {
		plain, oerr := o.aead.Open(o.buf[:0], chunkNonce(o.n, last), o.in[:n], o.aad)
		if oerr == nil {
			o.buf, o.out, o.done = plain, plain, last
			o.n++
			return nil
		}
		if n < sealed {
			break
		}
	}
	return fmt.Errorf("%w: decryption of chunk %d failed (wrong key or damaged data)", ErrCorrupt, o.n)
}
