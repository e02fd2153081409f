package azure

import (
	"context"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// storageScope is the OAuth scope of Azure Storage data-plane requests.
const storageScope = "https://storage.azure.com/.default"

// retryOptions translates the configured retries into azcore's policy.
func retryOptions(r RetryConfig) policy.RetryOptions {
	return policy.RetryOptions{
		MaxRetries:    int32(r.MaxAttempts - 1),
		RetryDelay:    r.Delay,
		MaxRetryDelay: r.MaxDelay,
		TryTimeout:    r.TryTimeout,
	}
}

// serviceURL returns the blob service URL with a trailing slash.
func serviceURL(cfg Config) string {
	if cfg.Endpoint == "" {
		return fmt.Sprintf("https://%s.blob.core.windows.net/", cfg.Account)
	}
	return strings.TrimSuffix(cfg.Endpoint, "/") + "/"
}

// newContainerClient builds the client for cfg's container with the
// configured authentication. The returned errors carry no secrets.
func newContainerClient(ctx context.Context, cfg Config) (*container.Client, error) {
	opts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: retryOptions(cfg.Retry)}}
	containerURL := serviceURL(cfg) + cfg.Container
	switch {
	case cfg.ConnectionString != "":
		c, err := container.NewClientFromConnectionString(cfg.ConnectionString, cfg.Container, opts)
		if err != nil {
			// The SDK's message may quote the connection string.
			return nil, fmt.Errorf("invalid connection string")
		}
		return c, nil
	case cfg.Key != "":
		cred, err := container.NewSharedKeyCredential(cfg.Account, cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("invalid shared key: %w", storage.ErrPermission)
		}
		return container.NewClientWithSharedKeyCredential(containerURL, cred, opts)
	case cfg.SAS != "":
		return container.NewClientWithNoCredential(containerURL+"?"+cfg.SAS, opts)
	default:
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("no Azure credential (set a key, SAS or connection string, or configure DefaultAzureCredential): %w: %w", storage.ErrPermission, err)
		}
		// Fail here, with a clear message, rather than inside the first request.
		if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{storageScope}}); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("no usable Azure credential (set a key, SAS or connection string, or configure DefaultAzureCredential): %w: %w", storage.ErrPermission, err)
		}
		return container.NewClient(containerURL, cred, opts)
	}
}
