package azure_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/storagetest"
	"github.com/pgkeep/pgkeep/test/azurite"
)

// TestBlockLayout checks on the service what Put published: the committed
// blocks, the whole-object Content-MD5 and no uncommitted leftovers.
func TestBlockLayout(t *testing.T) {
	az := azurite.Start(t)
	cfg := keyConfig(t, az)
	cfg.BlockSize = 1 << 20
	cfg.Prefix = "pfx"
	a := open(t, cfg)
	ctx := context.Background()
	data := storagetest.Random(t, 3<<20+5)
	for _, c := range []struct {
		key        string
		size       int64
		wantBlocks int
	}{
		{"known", int64(len(data)), 4},
		{"unknown", -1, 4},
		{"small", 1 << 20, 0}, // one Put Blob request
	} {
		body := data
		if c.key == "small" {
			body = data[:1<<20]
		}
		if err := a.Put(ctx, c.key, bytes.NewReader(body), c.size, storage.PutOptions{}); err != nil {
			t.Fatalf("put %s: %v", c.key, err)
		}
		bb, err := blockblob.NewClientFromConnectionString(az.ConnectionString, cfg.Container, "pfx/"+c.key, nil)
		if err != nil {
			t.Fatal(err)
		}
		list, err := bb.GetBlockList(ctx, blockblob.BlockListTypeAll, nil)
		if err != nil {
			t.Fatalf("block list of %s: %v", c.key, err)
		}
		if len(list.CommittedBlocks) != c.wantBlocks || len(list.UncommittedBlocks) != 0 {
			t.Errorf("%s: %d committed, %d uncommitted blocks; want %d and 0",
				c.key, len(list.CommittedBlocks), len(list.UncommittedBlocks), c.wantBlocks)
		}
		props, err := bb.GetProperties(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum := md5.Sum(body); !bytes.Equal(props.ContentMD5, sum[:]) {
			t.Errorf("%s: Content-MD5 %x, want %x", c.key, props.ContentMD5, sum)
		}
	}
}
