package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// Put implements storage.Storage. The body is streamed (chunked) with the
// size in a header and its SHA-256 in a trailer; when r fails, yields a
// size other than the one announced, or ctx ends, the request is cut off
// and the server publishes nothing. Put returns only once the transport is
// done with r.
func (c *Client) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) error {
	if err := storage.ValidateKey(key); err != nil {
		return fmt.Errorf("remote put: %w", err)
	}
	body := &putSource{ctx: ctx, r: r, size: size, sum: sha256.New(), closed: make(chan struct{})}
	req, err := c.newRequest(ctx, http.MethodPut, objectsPath+escapeKey(key), nil, body)
	if err != nil {
		return fmt.Errorf("remote put %s: %w", key, err)
	}
	req.ContentLength = -1 // chunked, so the trailer can follow the body
	req.Trailer = http.Header{trlSHA256: nil}
	body.trailer = req.Trailer
	req.Header.Set(hdrSize, strconv.FormatInt(size, 10))
	// A refused put is answered before any of the body is sent.
	req.Header.Set("Expect", "100-continue")
	if opts.IfAbsent {
		req.Header.Set("If-None-Match", "*")
	}
	resp, err := c.call(req, http.StatusCreated)
	if err == nil {
		closeBody(resp)
	}
	// The transport may still be reading r in its own goroutine after an
	// early answer; it always closes the body when it stops.
	<-body.closed
	if err != nil {
		return fmt.Errorf("remote put %s: %w", key, err)
	}
	return nil
}

// putSource is the body of a put: it hashes what it reads, sets the
// checksum trailer at the end, and fails instead of ending when the source
// yields more or fewer bytes than announced or ctx ended meanwhile (the
// transport may otherwise send the whole body and its trailer before it
// notices the cancellation, and the server would publish the object).
type putSource struct {
	ctx     context.Context
	r       io.Reader
	size    int64 // -1: unknown
	n       int64
	sum     hash.Hash
	trailer http.Header
	err     error // sticky

	closeOnce sync.Once
	closed    chan struct{}
}

// Read implements io.Reader.
func (s *putSource) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	s.sum.Write(p[:n])
	s.n += int64(n)
	switch {
	case s.ctx.Err() != nil:
		s.err = s.ctx.Err()
	case s.size >= 0 && s.n > s.size:
		s.err = fmt.Errorf("the source yields more than the %d bytes announced", s.size)
	case err == io.EOF && s.size >= 0 && s.n != s.size:
		s.err = fmt.Errorf("the source ended after %d of the %d bytes announced", s.n, s.size)
	case err == io.EOF:
		s.trailer.Set(trlSHA256, hex.EncodeToString(s.sum.Sum(nil)))
		s.err = io.EOF
	case err != nil:
		s.err = err
	}
	return n, s.err
}

// Close implements io.Closer; the transport calls it when done with the body.
func (s *putSource) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return nil
}
