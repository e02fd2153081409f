package posix

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pgkeep/pgkeep/internal/durable"
	"github.com/pgkeep/pgkeep/repo/storage"
)

// Put implements storage.Storage: temp file, fsync, rename (or link when
// IfAbsent), fsync of the directory.
func (p *Posix) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (err error) {
	if err := storage.ValidateKey(key); err != nil {
		return err
	}
	path := p.path(key)
	dir := filepath.Dir(path)
	tmp, err := p.createTemp(dir)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, translate(err))
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(fileMode); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	n, err := io.Copy(tmp, &ctxReader{ctx: ctx, r: r})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("put %s: read %d bytes, expected %d", key, n, size)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("put %s: fsync: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := publish(tmp.Name(), path, opts.IfAbsent); err != nil {
		return fmt.Errorf("put %s: %w", key, translate(err))
	}
	return durable.SyncDir(dir)
}

// createTemp creates a temporary file in dir, creating dir as needed; a
// racing Remove may delete an empty dir between the two, so retry.
func (p *Posix) createTemp(dir string) (*os.File, error) {
	for attempt := 0; ; attempt++ {
		if err := p.mkdirAll(dir); err != nil {
			return nil, err
		}
		f, err := os.CreateTemp(dir, tempPrefix+"*")
		if err == nil || !os.IsNotExist(err) || attempt == 5 {
			return f, err
		}
	}
}

// publish moves tmp to path. With ifAbsent it uses link(2), which fails with
// EEXIST when path exists, so exactly one of several racing writers wins.
func publish(tmp, path string, ifAbsent bool) error {
	if !ifAbsent {
		return os.Rename(tmp, path)
	}
	if err := os.Link(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Remove(tmp)
}

// mkdirAll creates dir and its missing parents with 0700, fsyncing each
// parent so the new directory entries are durable.
func (p *Posix) mkdirAll(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir && len(parent) >= len(p.root) {
		if err := p.mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, dirMode); err != nil && !os.IsExist(err) {
		return err
	}
	return durable.SyncDir(parent)
}
