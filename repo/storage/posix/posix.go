// Package posix stores objects as files under a root directory.
//
// Put writes a temporary file in the target directory, fsyncs it, publishes it
// with rename (link for IfAbsent, which fails atomically when the name exists)
// and fsyncs the directory. Files are 0600 and directories 0700: the
// repository holds the cluster's data.
package posix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pgkeep/pgkeep/internal/durable"
	"github.com/pgkeep/pgkeep/repo/storage"
)

var _ storage.Storage = (*Posix)(nil)

const (
	dirMode  = 0o700
	fileMode = 0o600
	// tempPrefix marks files being written; List never shows them.
	tempPrefix = ".tmp-"
)

// Posix is a Storage rooted at a local directory.
type Posix struct {
	root string
}

// New opens the storage rooted at root. The directory is created (0700) by
// the first Put, so reading a mistyped path finds nothing and creates nothing.
func New(root string) (*Posix, error) {
	if root == "" {
		return nil, errors.New("posix storage: empty path")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("posix storage %s: %w", root, err)
	}
	return &Posix{root: abs}, nil
}

func (p *Posix) path(key string) string { return filepath.Join(p.root, filepath.FromSlash(key)) }

// Location implements storage.Storage.
func (p *Posix) Location() string { return "posix:" + p.root }

// Close implements storage.Storage.
func (p *Posix) Close() error { return nil }

// translate maps OS errors to storage sentinels, keeping the original text.
func translate(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%w: %w", storage.ErrExists, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %w", storage.ErrPermission, err)
	}
	return err
}

// Get implements storage.Storage.
func (p *Posix) Get(ctx context.Context, key string, offset, length int64, fn func(io.Reader) error) error {
	if err := storage.ValidateKey(key); err != nil {
		return err
	}
	f, err := os.Open(p.path(key))
	if err != nil {
		return fmt.Errorf("get %s: %w", key, translate(err))
	}
	defer f.Close()
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return fmt.Errorf("get %s: %w", key, err)
		}
	}
	var r io.Reader = f
	if length > 0 {
		r = io.LimitReader(f, length)
	}
	return fn(&ctxReader{ctx: ctx, r: r})
}

// Stat implements storage.Storage.
func (p *Posix) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := storage.ValidateKey(key); err != nil {
		return storage.ObjectInfo{}, err
	}
	fi, err := os.Stat(p.path(key))
	if err == nil && fi.IsDir() {
		err = fs.ErrNotExist
	}
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, translate(err))
	}
	return storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Remove implements storage.Storage.
func (p *Posix) Remove(ctx context.Context, key string) error {
	if err := storage.ValidateKey(key); err != nil {
		return err
	}
	path := p.path(key)
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove %s: %w", key, translate(err))
	}
	// Remove the directories the object leaves empty, up to the root: an
	// expired backup leaves nothing behind. A racing Put recreates them.
	dir := filepath.Dir(path)
	for dir != p.root && os.Remove(dir) == nil {
		dir = filepath.Dir(dir)
	}
	return durable.SyncDir(dir)
}

// List implements storage.Storage. It walks only the directories that can
// hold keys with the prefix.
func (p *Posix) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := storage.ValidatePrefix(prefix); err != nil {
		return err
	}
	start := p.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = p.path(prefix[:i])
	}
	err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		rel, rerr := filepath.Rel(p.root, path)
		if rerr != nil {
			return rerr
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			// Skip directories that cannot contain the prefix.
			if path != start && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), tempPrefix) || !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, ierr := d.Info()
		if ierr != nil {
			if errors.Is(ierr, fs.ErrNotExist) {
				return nil // removed while listing
			}
			return ierr
		}
		return fn(storage.ObjectInfo{Key: key, Size: info.Size(), ModTime: info.ModTime()})
	})
	if err != nil {
		return fmt.Errorf("list %q: %w", prefix, translate(err))
	}
	return nil
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
