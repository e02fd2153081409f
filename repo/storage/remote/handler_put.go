package remote

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// put stores the request body under the key. The backend gets a reader that
// fails instead of ending when the body is short, long or fails its
// checksum, so its atomic publish leaves no object then.
func (h *handler) put(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if err := storage.ValidateKey(key); err != nil {
		h.fail(w, r, "put", key, err)
		return
	}
	var opts storage.PutOptions
	switch v := r.Header.Get("If-None-Match"); v {
	case "*":
		opts.IfAbsent = true
	case "":
	default:
		h.fail(w, r, "put", key, fmt.Errorf("%w: If-None-Match %q: only \"*\" is supported", errBadRequest, v))
		return
	}
	// Without AllowOverwrite, a plain put may create but never replace.
	guarded := !opts.IfAbsent && !h.o.AllowOverwrite
	if guarded {
		opts.IfAbsent = true
	}
	body, err := newPutBody(r)
	if err != nil {
		h.fail(w, r, "put", key, err)
		return
	}
	// The size is checked by body: an unknown size makes every backend read
	// to the end, where the checksum is verified.
	err = h.s.Put(r.Context(), key, body, -1, opts)
	if guarded && errors.Is(err, storage.ErrExists) {
		err = fmt.Errorf("%w: replacing %s is not allowed by the repository server (allow-overwrite is off)",
			storage.ErrPermission, key)
	}
	if err != nil {
		h.fail(w, r, "put", key, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// putBody reads a put request's body, failing with errBadRequest instead of
// returning io.EOF unless the body has the declared size and the SHA-256
// that the client sent in the trailer.
type putBody struct {
	r       io.Reader
	trailer http.Header // valid only once r returned io.EOF
	sum     hash.Hash
	n       int64
	size    int64 // -1: unknown
	err     error // sticky
}

// newPutBody checks the size header and the declared trailer of r.
func newPutBody(r *http.Request) (*putBody, error) {
	v := r.Header.Get(hdrSize)
	size, err := strconv.ParseInt(v, 10, 64)
	if err != nil || size < -1 {
		return nil, fmt.Errorf("%w: header %s=%q: want the body size in bytes or -1", errBadRequest, hdrSize, v)
	}
	if _, ok := r.Trailer[trlSHA256]; !ok {
		return nil, fmt.Errorf("%w: the request declares no %s trailer", errBadRequest, trlSHA256)
	}
	return &putBody{r: r.Body, trailer: r.Trailer, sum: sha256.New(), size: size}, nil
}

// Read implements io.Reader.
func (b *putBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	b.sum.Write(p[:n])
	b.n += int64(n)
	switch {
	case b.size >= 0 && b.n > b.size:
		b.err = fmt.Errorf("%w: body longer than the declared %d bytes", errBadRequest, b.size)
	case err == io.EOF:
		b.err = b.verify()
	case err != nil:
		b.err = fmt.Errorf("%w: body ended after %d bytes: %w", errBadRequest, b.n, err)
	}
	if b.err != nil {
		return n, b.err
	}
	return n, nil
}

// verify checks the complete body against its size and checksum; it
// returns io.EOF when both match.
func (b *putBody) verify() error {
	if b.size >= 0 && b.n != b.size {
		return fmt.Errorf("%w: body of %d bytes, %d declared", errBadRequest, b.n, b.size)
	}
	want := b.trailer.Get(trlSHA256)
	if want == "" {
		return fmt.Errorf("%w: body ended without its %s trailer", errBadRequest, trlSHA256)
	}
	if got := hex.EncodeToString(b.sum.Sum(nil)); got != want {
		return fmt.Errorf("%w: body SHA-256 %s, trailer says %s", errBadRequest, got, want)
	}
	return io.EOF
}
