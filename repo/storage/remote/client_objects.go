package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// Get implements storage.Storage. The reader given to fn fails, rather
// than ending, when the response ends short of what the server sent or the
// server reports a failure mid-stream.
func (c *Client) Get(ctx context.Context, key string, offset, length int64, fn func(io.Reader) error) error {
	if err := storage.ValidateKey(key); err != nil {
		return fmt.Errorf("remote get: %w", err)
	}
	if offset < 0 || length < 0 {
		return fmt.Errorf("remote get %s: negative offset %d or length %d", key, offset, length)
	}
	q := url.Values{}
	if offset > 0 {
		q.Set("offset", strconv.FormatInt(offset, 10))
	}
	if length > 0 {
		q.Set("length", strconv.FormatInt(length, 10))
	}
	req, err := c.newRequest(ctx, http.MethodGet, objectsPath+escapeKey(key), q, nil)
	if err != nil {
		return fmt.Errorf("remote get %s: %w", key, err)
	}
	resp, err := c.call(req, http.StatusOK)
	if err != nil {
		return fmt.Errorf("remote get %s: %w", key, err)
	}
	defer closeBody(resp)
	return fn(&getBody{key: key, resp: resp})
}

// getBody reads a GET response and checks its trailer at the end.
type getBody struct {
	key  string
	resp *http.Response
	n    int64
	err  error // sticky
}

// Read implements io.Reader.
func (b *getBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.resp.Body.Read(p)
	b.n += int64(n)
	switch {
	case err == io.EOF:
		b.err = b.verify()
	case err != nil:
		b.err = fmt.Errorf("remote get %s: after %d bytes: %w", b.key, b.n, err)
	}
	return n, b.err
}

// verify checks, at the end of the body, that the server finished without
// error and that every byte it sent arrived; it returns io.EOF when so.
func (b *getBody) verify() error {
	if msg := b.resp.Trailer.Get(hdrError); msg != "" {
		return fmt.Errorf("remote get %s: the server failed after %d bytes: %s", b.key, b.n, msg)
	}
	sent := b.resp.Trailer.Get(trlSent)
	if sent != strconv.FormatInt(b.n, 10) {
		return fmt.Errorf("remote get %s: the response ended after %d bytes, the server reports %q sent", b.key, b.n, sent)
	}
	return io.EOF
}

// Stat implements storage.Storage.
func (c *Client) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := storage.ValidateKey(key); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("remote stat: %w", err)
	}
	req, err := c.newRequest(ctx, http.MethodGet, statPath+escapeKey(key), nil, nil)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("remote stat %s: %w", key, err)
	}
	resp, err := c.call(req, http.StatusOK)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("remote stat %s: %w", key, err)
	}
	defer closeBody(resp)
	var body statBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("remote stat %s: reading the answer: %w", key, err)
	}
	mtime, err := time.Parse(time.RFC3339Nano, body.ModTime)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("remote stat %s: modification time: %w", key, err)
	}
	return storage.ObjectInfo{Key: body.Key, Size: body.Size, ModTime: mtime}, nil
}

// Remove implements storage.Storage.
func (c *Client) Remove(ctx context.Context, key string) error {
	if err := storage.ValidateKey(key); err != nil {
		return fmt.Errorf("remote remove: %w", err)
	}
	req, err := c.newRequest(ctx, http.MethodDelete, objectsPath+escapeKey(key), nil, nil)
	if err != nil {
		return fmt.Errorf("remote remove %s: %w", key, err)
	}
	resp, err := c.call(req, http.StatusNoContent)
	if err != nil {
		return fmt.Errorf("remote remove %s: %w", key, err)
	}
	closeBody(resp)
	return nil
}
