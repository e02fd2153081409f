// Package azure stores a pgkeep repository in an Azure Blob Storage
// container, with the azblob SDK.
//
// Every object is a block blob named Prefix + "/" + key. Put stages blocks and
// publishes them with one Put Block List (or uploads a small object with one
// Put Blob), so an object becomes visible complete or not at all; IfAbsent is
// an "If-None-Match: *" condition on that publishing request.
//
// Concurrent Puts of the same key interfere on Azure: committing one discards
// the other's staged blocks, so the loser of two concurrent overwriting
// multi-block Puts fails (with a transient error) instead of winning last.
// Concurrent IfAbsent Puts are exact: one wins, the others get ErrExists.
package azure

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// Azure is a storage.Storage on one Azure Blob Storage container.
type Azure struct {
	client   *container.Client
	cfg      Config // defaulted
	location string
	bufs     sync.Pool // *[]byte of cfg.BlockSize
}

var _ storage.Storage = (*Azure)(nil)

// New validates cfg, connects and creates the container when it does not
// exist. Rejected credentials yield an error wrapping storage.ErrPermission.
func New(ctx context.Context, cfg Config) (*Azure, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("azure config: %w", err)
	}
	a := &Azure{cfg: cfg, location: location(cfg)}
	a.bufs.New = func() any {
		b := make([]byte, cfg.BlockSize)
		return &b
	}
	client, err := newContainerClient(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("azure open %s: %w", a.location, err)
	}
	a.client = client
	if err := a.ensureContainer(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// location names the container as "azure:<account>/<container>[/prefix]".
func location(cfg Config) string {
	account := cfg.Account
	if account == "" {
		// A connection string without AccountName: name the endpoint's host.
		u, err := url.Parse(connectionStringValue(cfg.ConnectionString, "BlobEndpoint"))
		if err == nil {
			account = u.Host
		}
	}
	loc := "azure:" + account + "/" + cfg.Container
	if cfg.Prefix != "" {
		loc += "/" + cfg.Prefix
	}
	return loc
}

// ensureContainer creates the container unless it exists. It first lists
// (which a container SAS allows and which checks the credentials), and only
// creates on ContainerNotFound.
func (a *Azure) ensureContainer(ctx context.Context) error {
	pager := a.client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{MaxResults: to.Ptr[int32](1)})
	_, err := pager.NextPage(ctx)
	if err == nil {
		return nil
	}
	if !bloberror.HasCode(err, bloberror.ContainerNotFound) {
		return a.translate("open", a.location, err)
	}
	_, err = a.client.Create(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return a.translate("create container", a.location, err)
	}
	return nil
}

// Location names the storage for messages, e.g. "azure:acct/backups/pg".
func (a *Azure) Location() string { return a.location }

// Close releases nothing: the SDK client holds no resources to release.
func (a *Azure) Close() error { return nil }

// translate maps err of op on key to the storage sentinels, with the
// configured secrets redacted from the message.
func (a *Azure) translate(op, key string, err error) error {
	return translateError(op, key, err, a.cfg.Key, a.cfg.SAS, a.cfg.ConnectionString)
}

// blobName returns the blob name of a valid key.
func (a *Azure) blobName(key string) string {
	if a.cfg.Prefix == "" {
		return key
	}
	return a.cfg.Prefix + "/" + key
}

// keyOf returns the key of a blob name listed under the prefix.
func (a *Azure) keyOf(name string) string {
	if a.cfg.Prefix == "" {
		return name
	}
	return strings.TrimPrefix(name, a.cfg.Prefix+"/")
}

// blockBlob returns the client of key's blob.
func (a *Azure) blockBlob(key string) *blockblob.Client {
	return a.client.NewBlockBlobClient(a.blobName(key))
}
