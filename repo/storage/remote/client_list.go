package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// List implements storage.Storage. The listing is decoded as it arrives;
// one that ends without the server's end marker is an error, so a cut
// connection never looks like a shorter listing.
func (c *Client) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := storage.ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("remote list: %w", err)
	}
	req, err := c.newRequest(ctx, http.MethodGet, listPath, url.Values{"prefix": {prefix}}, nil)
	if err != nil {
		return fmt.Errorf("remote list %q: %w", prefix, err)
	}
	resp, err := c.call(req, http.StatusOK)
	if err != nil {
		return fmt.Errorf("remote list %q: %w", prefix, err)
	}
	defer closeBody(resp)
	dec := json.NewDecoder(resp.Body)
	for {
		var line listLine
		if err := dec.Decode(&line); err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("the listing ended without its end marker")
			}
			return fmt.Errorf("remote list %q: %w", prefix, err)
		}
		switch {
		case line.End:
			return nil
		case line.Error != "":
			return fmt.Errorf("remote list %q: %w", prefix, codeError(line.Error, line.Message))
		case line.Key == "":
			return fmt.Errorf("remote list %q: a line without a key", prefix)
		}
		mtime, err := time.Parse(time.RFC3339Nano, line.ModTime)
		if err != nil {
			return fmt.Errorf("remote list %q: %s: modification time: %w", prefix, line.Key, err)
		}
		if err := fn(storage.ObjectInfo{Key: line.Key, Size: line.Size, ModTime: mtime}); err != nil {
			return err
		}
	}
}

// RemoveTemp implements storage.TempRemover: the server removes the
// temporary files of interrupted writes, if its backend has any.
func (c *Client) RemoveTemp(ctx context.Context, prefix string) (int, error) {
	if err := storage.ValidatePrefix(prefix); err != nil {
		return 0, fmt.Errorf("remote remove-temp: %w", err)
	}
	req, err := c.newRequest(ctx, http.MethodPost, removeTempPath, url.Values{"prefix": {prefix}}, nil)
	if err != nil {
		return 0, fmt.Errorf("remote remove-temp %q: %w", prefix, err)
	}
	resp, err := c.call(req, http.StatusOK)
	if err != nil {
		return 0, fmt.Errorf("remote remove-temp %q: %w", prefix, err)
	}
	defer closeBody(resp)
	var body removeTempBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("remote remove-temp %q: reading the answer: %w", prefix, err)
	}
	return body.Removed, nil
}
