package azure

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"golang.org/x/sync/errgroup"
)

// getBuf returns a BlockSize buffer from the pool.
func (a *Azure) getBuf() *[]byte {
	return a.bufs.Get().(*[]byte)
}

// blocks stages first[:n] and the rest of r as blocks, at most Concurrency
// uploads in flight (so at most Concurrency+1 buffers in use), then commits
// the block list. Nothing is committed after a read, stage or context error.
// first stays owned by the caller.
func (u *upload) blocks(ctx context.Context, r io.Reader, first *[]byte, n int) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(u.a.cfg.Concurrency)
	var ids []string
	var readErr error
	buf, last, pooled := first, false, false
	for {
		if n > 0 {
			if len(ids) == maxBlocks {
				readErr = fmt.Errorf("object exceeds %d blocks of %d bytes", maxBlocks, u.a.cfg.BlockSize)
				break
			}
			index := len(ids)
			id := blockID(u.id, index)
			ids = append(ids, id)
			chunk, owned, b := (*buf)[:n], pooled, buf
			g.Go(func() error {
				if owned {
					defer u.a.bufs.Put(b)
				}
				return u.stage(gctx, id, index, chunk)
			})
		} else if pooled {
			u.a.bufs.Put(buf)
		}
		if last || gctx.Err() != nil {
			break
		}
		buf, pooled = u.a.getBuf(), true
		n, last, readErr = u.read(r, *buf)
		if readErr != nil {
			u.a.bufs.Put(buf)
			break
		}
	}
	if err := g.Wait(); readErr == nil {
		readErr = err
	}
	if readErr != nil {
		return readErr
	}
	if err := u.checkComplete(ctx); err != nil {
		return err
	}
	_, err := u.blob.CommitBlockList(ctx, ids, &blockblob.CommitBlockListOptions{
		Metadata:         u.metadata(),
		HTTPHeaders:      &blob.HTTPHeaders{BlobContentMD5: u.sum.Sum(nil)},
		AccessConditions: u.conditions(),
	})
	return err
}

// stage uploads one block with the MD5 of its content.
func (u *upload) stage(ctx context.Context, id string, index int, chunk []byte) error {
	sum := md5.Sum(chunk)
	_, err := u.blob.StageBlock(ctx, id, streaming.NopCloser(bytes.NewReader(chunk)), &blockblob.StageBlockOptions{
		TransactionalValidation: blob.TransferValidationTypeMD5(sum[:]),
	})
	if err != nil {
		return withStep(fmt.Sprintf("stage block %d", index), err)
	}
	return nil
}

// blockID names block index of upload id. All ids of a blob have the same
// length, as the service requires, and differ between concurrent uploads of
// the same key, so that no writer commits another's block.
func blockID(uploadID string, index int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s-%06d", uploadID, index))
}

// stepError names the step of an operation that failed.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// withStep wraps err with the step that failed.
func withStep(step string, err error) error { return &stepError{step: step, err: err} }
