// Package repo is the pgkeep repository: its on-storage format (pgkeep.json,
// cluster.json, WAL and backup objects), the object codec (compression,
// checksums, encryption) and the operations on it. It knows nothing of
// PostgreSQL connections.
package repo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// FormatVersion is the repository format this code writes and reads.
const FormatVersion = 1

// ErrNotInitialized: the storage holds no pgkeep.json.
var ErrNotInitialized = errors.New("repository not initialized")

const formatKey = "pgkeep.json"

// Format is the content of pgkeep.json.
type Format struct {
	Format   int           `json:"format"`
	Created  time.Time     `json:"created"`
	Cipher   *CipherParams `json:"cipher,omitempty"`
	Checksum string        `json:"checksum"`
}

func (f *Format) setChecksum(s string) string { old := f.Checksum; f.Checksum = s; return old }

// Options open a repository.
type Options struct {
	Storage     storage.Storage
	CipherPass  []byte // nil: no encryption
	Compression Compression
	Level       int
	Logger      *slog.Logger
}

// Repo is an open repository.
type Repo struct {
	store  storage.Storage
	codec  *Codec
	format Format
	log    *slog.Logger
	xacts  *xactCache // the last commits of WAL objects read (see lastXact)
}

// Open opens an initialised repository. A missing pgkeep.json is
// ErrNotInitialized; a pass for an unencrypted repository, a missing pass
// for an encrypted one and a wrong pass are errors too.
func Open(ctx context.Context, opts Options) (*Repo, error) {
	r := newRepo(opts)
	if err := readMeta(ctx, r.store, formatKey, &r.format); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("%s: %w (no %s): run `pgkeep create` first", r.store.Location(), ErrNotInitialized, formatKey)
		}
		return nil, fmt.Errorf("open repository %s: %w", r.store.Location(), err)
	}
	if err := r.openCipher(opts.CipherPass); err != nil {
		return nil, fmt.Errorf("open repository %s: %w", r.store.Location(), err)
	}
	return r, nil
}

// Init creates pgkeep.json when missing (encrypted when CipherPass is set)
// and opens the repository. Racing Inits agree on one pgkeep.json.
func Init(ctx context.Context, opts Options) (*Repo, error) {
	r := newRepo(opts)
	doc := Format{Format: FormatVersion, Created: time.Now().UTC()}
	if opts.CipherPass != nil {
		params, _, err := newCipherParams(opts.CipherPass)
		if err != nil {
			return nil, err
		}
		doc.Cipher = params
	}
	err := createMeta(ctx, r.store, formatKey, &doc, &r.format)
	switch {
	case err == nil:
		r.format = doc
		r.log.Info("repository initialized", "location", r.store.Location(), "encrypted", doc.Cipher != nil)
	case !errors.Is(err, storage.ErrExists):
		return nil, fmt.Errorf("initialize repository %s: %w", r.store.Location(), err)
	}
	if err := r.openCipher(opts.CipherPass); err != nil {
		return nil, fmt.Errorf("open repository %s: %w", r.store.Location(), err)
	}
	return r, nil
}

func newRepo(opts Options) *Repo {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Repo{
		store: opts.Storage,
		codec: &Codec{Compression: opts.Compression, Level: opts.Level},
		log:   log,
		xacts: &xactCache{},
	}
}

func (r *Repo) openCipher(pass []byte) error {
	if r.format.Format != FormatVersion {
		return fmt.Errorf("repository format %d, this pgkeep reads format %d", r.format.Format, FormatVersion)
	}
	switch {
	case r.format.Cipher == nil && pass != nil:
		return errors.New("a cipher passphrase was given but the repository is not encrypted")
	case r.format.Cipher == nil:
		return nil
	case pass == nil:
		return errors.New("the repository is encrypted: set repo.cipher-pass-file (--repo-cipher-pass-file) or PGKEEP_REPO_CIPHER_PASS")
	}
	k, err := r.format.Cipher.open(pass)
	if err != nil {
		return err
	}
	r.codec.keys = k
	return nil
}

// Storage returns the underlying storage.
func (r *Repo) Storage() storage.Storage { return r.store }

// Codec returns the object codec.
func (r *Repo) Codec() *Codec { return r.codec }

// WithCompression returns a view of the repository that writes objects
// with compression c at level (0: its default); encryption stays. Every
// object names its compression in its header, so readers need no setting.
// It is meant for objects that are soon replaced, like a growing .partial
// segment, where a cheap codec (s2) saves CPU at little cost in space.
func (r *Repo) WithCompression(c Compression, level int) *Repo {
	cp := *r
	codec := *r.codec
	codec.Compression, codec.Level = c, level
	codec.Concurrency = 1 // a cheap codec needs no help, and its buffers are per goroutine
	cp.codec = &codec
	return &cp
}

// Encrypted reports whether the repository encrypts its objects.
func (r *Repo) Encrypted() bool { return r.format.Cipher != nil }

// Location names the repository for messages.
func (r *Repo) Location() string { return r.store.Location() }
