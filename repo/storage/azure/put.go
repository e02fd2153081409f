package azure

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// uploadIDKey is the blob metadata naming the Put that published the blob.
const uploadIDKey = "pgkeepupload"

// Put stores r under key. An object of at most BlockSize bytes goes up in one
// Put Blob request; a larger one (or one of unknown size past BlockSize) is
// staged in BlockSize blocks, up to Concurrency at a time, and published by
// Put Block List. Staged blocks stay invisible, and are garbage-collected by
// the service, when Put fails before publishing. Every request carries an MD5
// of its payload, and the blob's Content-MD5 is the MD5 of the whole object.
func (a *Azure) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) error {
	if err := storage.ValidateKey(key); err != nil {
		return a.translate("put", key, err)
	}
	u := &upload{a: a, blob: a.blockBlob(key), ifAbsent: opts.IfAbsent, id: newUploadID(), sum: md5.New()}
	err := u.run(ctx, r, size)
	if err != nil {
		err = u.resolveConflict(ctx, err)
	}
	return a.translate("put", key, err)
}

// upload is the state of one Put.
type upload struct {
	a        *Azure
	blob     *blockblob.Client
	ifAbsent bool
	id       string    // random, names the blocks and tags the published blob
	sum      hash.Hash // MD5 of everything read
	total    int64     // bytes read
	size     int64     // announced size or -1
}

// newUploadID returns 32 random hex digits.
func newUploadID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// run reads the first chunk and publishes with one request when it holds the
// whole object, or hands over to the block pipeline.
func (u *upload) run(ctx context.Context, r io.Reader, size int64) error {
	u.size = size
	if size >= 0 {
		r = io.LimitReader(r, size) // never consume more than announced
	}
	var buf *[]byte
	if size >= 0 && size <= u.a.cfg.BlockSize {
		b := make([]byte, size)
		buf = &b
	} else {
		buf = u.a.getBuf()
		defer u.a.bufs.Put(buf)
	}
	n, last, err := u.read(r, *buf)
	if err != nil {
		return err
	}
	if !last {
		if err := u.checkAbsent(ctx); err != nil {
			return err
		}
		return u.blocks(ctx, r, buf, n)
	}
	if err := u.checkComplete(ctx); err != nil {
		return err
	}
	data := (*buf)[:n]
	sum := md5.Sum(data)
	_, err = u.blob.Upload(ctx, streaming.NopCloser(bytes.NewReader(data)), &blockblob.UploadOptions{
		TransactionalValidation: blob.TransferValidationTypeMD5(sum[:]),
		Metadata:                u.metadata(),
		AccessConditions:        u.conditions(),
	})
	return err
}

// checkAbsent fails an IfAbsent put early, before staging blocks, when the
// key exists already. The publish stays conditional: this only saves the
// upload in the common case.
func (u *upload) checkAbsent(ctx context.Context) error {
	if !u.ifAbsent {
		return nil
	}
	_, err := u.blob.GetProperties(ctx, nil)
	var re *azcore.ResponseError
	switch {
	case err == nil:
		return fmt.Errorf("%w (checked before staging)", storage.ErrExists)
	case errors.As(err, &re) && re.StatusCode == http.StatusNotFound:
		return nil // the conditional commit reports a missing container
	}
	return withStep("check absence", err)
}

// read fills buf from r. last reports that r has nothing after these n bytes.
func (u *upload) read(r io.Reader, buf []byte) (n int, last bool, err error) {
	n, err = io.ReadFull(r, buf)
	u.total += int64(n)
	u.sum.Write(buf[:n])
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return n, true, nil
	case err != nil:
		return n, false, fmt.Errorf("read source after %d bytes: %w", u.total, err)
	}
	return n, u.size >= 0 && u.total == u.size, nil
}

// checkComplete refuses to publish a cancelled or short upload.
func (u *upload) checkComplete(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if u.size >= 0 && u.total != u.size {
		return fmt.Errorf("read source: got %d of %d bytes: %w", u.total, u.size, io.ErrUnexpectedEOF)
	}
	return nil
}

// metadata tags the published blob with the upload id, so that a retried
// IfAbsent publish can tell its own earlier success from another writer's.
func (u *upload) metadata() map[string]*string {
	return map[string]*string{uploadIDKey: to.Ptr(u.id)}
}

// conditions returns "If-None-Match: *" for IfAbsent puts.
func (u *upload) conditions() *blob.AccessConditions {
	if !u.ifAbsent {
		return nil
	}
	etagAny := azcore.ETagAny
	return &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: &etagAny}}
}

// resolveConflict interprets a failed publish. A conflict of an IfAbsent put
// is our own success when the blob carries our upload id (a retry after a lost
// response), else ErrExists; the same holds for InvalidBlockList, which means
// another writer's publish discarded our staged blocks.
func (u *upload) resolveConflict(ctx context.Context, err error) error {
	lost := bloberror.HasCode(err, bloberror.InvalidBlockList)
	var re *azcore.ResponseError
	conflict := bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet) ||
		errors.As(err, &re) && re.StatusCode == http.StatusPreconditionFailed
	if !u.ifAbsent {
		if lost {
			return withStep("commit (a concurrent Put of the same key discarded the staged blocks)", err)
		}
		return err
	}
	if !conflict && !lost {
		return err
	}
	props, perr := u.blob.GetProperties(ctx, nil)
	if perr != nil {
		return err
	}
	for k, v := range props.Metadata {
		if strings.EqualFold(k, uploadIDKey) && v != nil && *v == u.id {
			return nil
		}
	}
	return fmt.Errorf("%w (published by another writer)", storage.ErrExists)
}
