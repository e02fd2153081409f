package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// PutObject encodes plain and stores it under key. With ifAbsent an
// existing object is left alone and the error wraps storage.ErrExists.
func (r *Repo) PutObject(ctx context.Context, key string, plain []byte, ifAbsent bool) (Digest, int64, error) {
	obj, d, err := r.codec.Encode(plain)
	if err != nil {
		return d, 0, fmt.Errorf("encode %s: %w", key, err)
	}
	err = r.store.Put(ctx, key, bytes.NewReader(obj), int64(len(obj)), storage.PutOptions{IfAbsent: ifAbsent})
	return d, int64(len(obj)), err
}

// PutStream encodes everything read from src into an object under key
// while uploading it, so that a large file is never held in memory. The
// digest and plain size are known once it returns. With ifAbsent an
// existing object is left alone and the error wraps storage.ErrExists.
func (r *Repo) PutStream(ctx context.Context, key string, src io.Reader, ifAbsent bool) (Digest, int64, error) {
	return r.putEncoded(ctx, key, ifAbsent, func(w io.Writer) (Digest, int64, error) {
		ow, err := r.codec.NewWriter(w)
		if err != nil {
			return Digest{}, 0, err
		}
		if _, err := io.CopyBuffer(ow, src, make([]byte, copyBufSize)); err != nil {
			return Digest{}, 0, err
		}
		if err := ow.Close(); err != nil {
			return Digest{}, 0, err
		}
		return ow.Digest(), ow.Size(), nil
	})
}

// PutFile stores the size bytes of src as an object under key, like
// PutStream, but compresses a large file on several cores (see
// Codec.EncodeFile). src must not change meanwhile.
func (r *Repo) PutFile(ctx context.Context, key string, src io.ReaderAt, size int64, ifAbsent bool) (Digest, error) {
	return r.PutFileChecked(ctx, key, src, size, ifAbsent, nil)
}

// PutFileChecked is PutFile for a source that may stop being what it was:
// check (nil: none) runs once every byte of src has been read and before
// the object is published, and its error aborts the upload, leaving no
// object.
func (r *Repo) PutFileChecked(ctx context.Context, key string, src io.ReaderAt, size int64, ifAbsent bool, check func() error) (Digest, error) {
	d, _, err := r.putEncoded(ctx, key, ifAbsent, func(w io.Writer) (Digest, int64, error) {
		d, err := r.codec.EncodeFile(w, src, size, r.codec.Concurrency)
		if err == nil && check != nil {
			err = check()
		}
		return d, size, err
	})
	return d, err
}

// putEncoded uploads what encode writes under key, streaming it through a
// pipe; encode returns the digest and plain size of the object.
func (r *Repo) putEncoded(ctx context.Context, key string, ifAbsent bool, encode func(io.Writer) (Digest, int64, error)) (Digest, int64, error) {
	pr, pw := io.Pipe()
	type result struct {
		d    Digest
		size int64
		err  error
	}
	encoded := make(chan result, 1)
	go func() {
		var res result
		res.d, res.size, res.err = encode(pw)
		pw.CloseWithError(res.err)
		encoded <- res
	}()
	err := r.store.Put(ctx, key, pr, -1, storage.PutOptions{IfAbsent: ifAbsent})
	pr.CloseWithError(errors.New("upload ended")) // unblock the encoder if Put stopped early
	res := <-encoded
	if res.err != nil && err == nil {
		err = fmt.Errorf("encode %s: %w", key, res.err)
	}
	if err != nil {
		return Digest{}, 0, err
	}
	return res.d, res.size, nil
}

// ReadObject decodes the object under key into w and verifies it. w has
// received unverified bytes when the error is not nil: write to a temporary
// place and publish only on success.
func (r *Repo) ReadObject(ctx context.Context, key string, w io.Writer) (Digest, error) {
	var d Digest
	err := r.store.Get(ctx, key, 0, 0, func(rd io.Reader) error {
		or, err := r.codec.NewReader(rd)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, or); err != nil {
			return err
		}
		d = or.Digest()
		return nil
	})
	if err != nil {
		return d, fmt.Errorf("read %s: %w", key, err)
	}
	return d, nil
}

// ObjectDigest reads only the trailer of the object under key: its plain
// size and digest, as the writer recorded them (not verified here).
func (r *Repo) ObjectDigest(ctx context.Context, key string) (int64, Digest, error) {
	info, err := r.store.Stat(ctx, key)
	if err != nil {
		return 0, Digest{}, err
	}
	if info.Size < headerLen+trailerLen {
		return 0, Digest{}, fmt.Errorf("%s: %w: %d bytes is too short", key, ErrCorrupt, info.Size)
	}
	var t []byte
	err = r.store.Get(ctx, key, info.Size-trailerLen, trailerLen, func(rd io.Reader) error {
		var err error
		t, err = io.ReadAll(rd)
		return err
	})
	if err != nil {
		return 0, Digest{}, err
	}
	size, d, err := ParseTrailer(t)
	if err != nil {
		return 0, Digest{}, fmt.Errorf("%s: %w", key, err)
	}
	return size, d, nil
}

// VerifyObject reads and verifies the whole object under key.
func (r *Repo) VerifyObject(ctx context.Context, key string) (Digest, error) {
	return r.ReadObject(ctx, key, io.Discard)
}

// IsCorrupt reports whether err says an object's bytes are damaged.
func IsCorrupt(err error) bool { return errors.Is(err, ErrCorrupt) }
