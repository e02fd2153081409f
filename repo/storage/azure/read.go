package azure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// Get calls fn with a reader of key's bytes from offset, at most length of
// them when length > 0. An interrupted download resumes where it stopped (up
// to Retry.MaxAttempts times per read), pinned to the blob's ETag so that it
// never mixes two versions. Read errors reaching fn are translated too.
func (a *Azure) Get(ctx context.Context, key string, offset, length int64, fn func(io.Reader) error) error {
	if err := storage.ValidateKey(key); err != nil {
		return a.translate("get", key, err)
	}
	if offset < 0 || length < 0 {
		return fmt.Errorf("azure get %s: negative offset %d or length %d", key, offset, length)
	}
	resp, err := a.blockBlob(key).DownloadStream(ctx, &blob.DownloadStreamOptions{
		Range: blob.HTTPRange{Offset: offset, Count: length},
	})
	if bloberror.HasCode(err, bloberror.InvalidRange) {
		return a.getPastEnd(ctx, key, offset, fn)
	}
	if err != nil {
		return a.translate("get", key, err)
	}
	body := resp.NewRetryReader(ctx, &blob.RetryReaderOptions{MaxRetries: int32(a.cfg.Retry.MaxAttempts - 1)})
	defer body.Close()
	return fn(&translatingReader{r: body, fail: func(err error) error { return a.translate("get", key, err) }})
}

// getPastEnd handles a range starting at or after the end: the service
// refuses it, but an offset equal to the size reads as empty (as in the other
// backends), while a larger one is an error.
func (a *Azure) getPastEnd(ctx context.Context, key string, offset int64, fn func(io.Reader) error) error {
	info, err := a.Stat(ctx, key)
	if err != nil {
		return err
	}
	if offset != info.Size {
		return fmt.Errorf("azure get %s: offset %d beyond size %d", key, offset, info.Size)
	}
	return fn(bytes.NewReader(nil))
}

// translatingReader translates the errors of a download, except io.EOF.
type translatingReader struct {
	r    io.Reader
	fail func(error) error
}

func (t *translatingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = t.fail(err)
	}
	return n, err
}

// Stat returns key's size and last-modified time.
func (a *Azure) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := storage.ValidateKey(key); err != nil {
		return storage.ObjectInfo{}, a.translate("stat", key, err)
	}
	props, err := a.blockBlob(key).GetProperties(ctx, nil)
	if err != nil {
		return storage.ObjectInfo{}, a.translate("stat", key, err)
	}
	info := storage.ObjectInfo{Key: key}
	if props.ContentLength != nil {
		info.Size = *props.ContentLength
	}
	if props.LastModified != nil {
		info.ModTime = *props.LastModified
	}
	return info, nil
}

// List calls fn for the committed blobs under prefix, in key order (the
// service lists names in lexical order). Blob names that are not valid keys
// (written by something else than pgkeep) are skipped.
func (a *Azure) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := storage.ValidatePrefix(prefix); err != nil {
		return a.translate("list", prefix, err)
	}
	opts := &container.ListBlobsFlatOptions{}
	if full := a.blobName(prefix); full != "" {
		opts.Prefix = to.Ptr(full)
	}
	pager := a.client.NewListBlobsFlatPager(opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return a.translate("list", prefix, err)
		}
		for _, item := range page.Segment.BlobItems {
			if item == nil || item.Name == nil {
				continue
			}
			key := a.keyOf(*item.Name)
			if storage.ValidateKey(key) != nil || !strings.HasPrefix(key, prefix) {
				continue
			}
			info := storage.ObjectInfo{Key: key}
			if p := item.Properties; p != nil {
				if p.ContentLength != nil {
					info.Size = *p.ContentLength
				}
				if p.LastModified != nil {
					info.ModTime = *p.LastModified
				}
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// Remove deletes key's blob with its snapshots.
func (a *Azure) Remove(ctx context.Context, key string) error {
	if err := storage.ValidateKey(key); err != nil {
		return a.translate("remove", key, err)
	}
	_, err := a.blockBlob(key).Delete(ctx, &blob.DeleteOptions{
		DeleteSnapshots: to.Ptr(blob.DeleteSnapshotsOptionTypeInclude),
	})
	return a.translate("remove", key, err)
}
