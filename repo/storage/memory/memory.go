// Package memory is an in-process Storage for unit tests of pure logic.
package memory

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pgkeep/pgkeep/repo/storage"
)

var _ storage.Storage = (*Memory)(nil)

type object struct {
	data    []byte
	modTime time.Time
}

// Memory keeps objects in a map. The zero value is not usable; call New.
type Memory struct {
	mu      sync.Mutex
	objects map[string]object
}

// New returns an empty Memory storage.
func New() *Memory { return &Memory{objects: map[string]object{}} }

// Put implements storage.Storage.
func (m *Memory) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) error {
	if err := storage.ValidateKey(key); err != nil {
		return err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if size >= 0 && int64(len(data)) != size {
		return fmt.Errorf("put %s: read %d bytes, expected %d", key, len(data), size)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[key]; ok && opts.IfAbsent {
		return fmt.Errorf("put %s: %w", key, storage.ErrExists)
	}
	m.objects[key] = object{data: data, modTime: time.Now()}
	return nil
}

// Get implements storage.Storage.
func (m *Memory) Get(ctx context.Context, key string, offset, length int64, fn func(io.Reader) error) error {
	if err := storage.ValidateKey(key); err != nil {
		return err
	}
	m.mu.Lock()
	o, ok := m.objects[key]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("get %s: %w", key, storage.ErrNotFound)
	}
	if offset < 0 || offset > int64(len(o.data)) {
		return fmt.Errorf("get %s: offset %d beyond size %d", key, offset, len(o.data))
	}
	data := o.data[offset:]
	if length > 0 && length < int64(len(data)) {
		data = data[:length]
	}
	return fn(bytes.NewReader(data))
}

// Stat implements storage.Storage.
func (m *Memory) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := storage.ValidateKey(key); err != nil {
		return storage.ObjectInfo{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return storage.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, storage.ErrNotFound)
	}
	return storage.ObjectInfo{Key: key, Size: int64(len(o.data)), ModTime: o.modTime}, nil
}

// List implements storage.Storage.
func (m *Memory) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := storage.ValidatePrefix(prefix); err != nil {
		return err
	}
	m.mu.Lock()
	var infos []storage.ObjectInfo
	for k, o := range m.objects {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, storage.ObjectInfo{Key: k, Size: int64(len(o.data)), ModTime: o.modTime})
		}
	}
	m.mu.Unlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Remove implements storage.Storage.
func (m *Memory) Remove(ctx context.Context, key string) error {
	if err := storage.ValidateKey(key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[key]; !ok {
		return fmt.Errorf("remove %s: %w", key, storage.ErrNotFound)
	}
	delete(m.objects, key)
	return nil
}

// Location implements storage.Storage.
func (m *Memory) Location() string { return "memory:" }

// Close implements storage.Storage.
func (m *Memory) Close() error { return nil }
