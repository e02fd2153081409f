package azure

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// Defaults applied by New to zero-valued Config fields.
const (
	DefaultBlockSize   = 8 << 20
	DefaultConcurrency = 4

	// Azure limits: a block is at most 4000 MiB, a blob at most 50,000 blocks.
	minBlockSize = 64 << 10
	maxBlockSize = 4000 << 20
	maxBlocks    = 50000
)

// Config locates a container and says how to authenticate to it.
//
// Authentication uses at most one of Key, SAS and ConnectionString; with none
// of them New uses azidentity.NewDefaultAzureCredential (environment, workload
// identity, managed identity, Azure CLI ...). The secrets never appear in
// String, GoString or error messages.
type Config struct {
	// Account is the storage account name. It may be left empty with a
	// ConnectionString, which names the account itself.
	Account string
	// Container is the blob container; New creates it when it does not exist.
	Container string
	// Endpoint is the blob service URL, e.g. "http://127.0.0.1:10000/devstoreaccount1"
	// for Azurite. Empty means "https://<Account>.blob.core.windows.net/".
	// A ConnectionString carries its own endpoint, so the two exclude each other.
	Endpoint string
	// Prefix is prepended (with a "/") to every key; it follows the key rules.
	Prefix string

	// Key is the account's shared key (secret).
	Key string
	// SAS is a shared access signature token, with or without the leading "?"
	// (secret). For a container SAS grant at least read, add, create, write,
	// delete and list ("racwdl").
	SAS string
	// ConnectionString is an account connection string (secret).
	ConnectionString string

	// BlockSize is the size of an upload block and of the largest object
	// uploaded in a single request. Default DefaultBlockSize (8 MiB).
	BlockSize int64
	// Concurrency is the number of blocks of one object uploaded in
	// parallel. A Put holds at most Concurrency+1 blocks in memory.
	// Default DefaultConcurrency (4).
	Concurrency int

	// Retry bounds the retries of transient failures (connection errors,
	// timeouts, HTTP 408, 429, 500, 502, 503, 504) of every request.
	Retry RetryConfig
}

// RetryConfig configures the retries of one HTTP request. Zero fields take
// the defaults noted.
type RetryConfig struct {
	// MaxAttempts is the number of tries per request, the first included.
	// Default 4; 1 disables retries.
	MaxAttempts int
	// Delay is the wait before the first retry; it doubles (with jitter) for
	// every further retry. Default 800ms.
	Delay time.Duration
	// MaxDelay caps the wait between tries. Default 30s.
	MaxDelay time.Duration
	// TryTimeout limits a single try of a request, including reading the
	// response body (Get resumes an interrupted download where it stopped).
	// Default 5m.
	TryTimeout time.Duration
}

// String describes the configuration with the secrets redacted.
func (c Config) String() string {
	auth := "default-credential"
	switch {
	case c.Key != "":
		auth = "shared-key"
	case c.SAS != "":
		auth = "sas"
	case c.ConnectionString != "":
		auth = "connection-string"
	}
	return fmt.Sprintf("azure.Config{Account:%q Container:%q Endpoint:%q Prefix:%q Auth:%s BlockSize:%d Concurrency:%d Retry:%+v}",
		c.Account, c.Container, c.Endpoint, c.Prefix, auth, c.BlockSize, c.Concurrency, c.Retry)
}

// GoString is String, so that %#v does not print the secrets either.
func (c Config) GoString() string { return c.String() }

// withDefaults returns c with the zero fields set to their defaults and the
// account taken from the connection string when not given.
func (c Config) withDefaults() Config {
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Retry.MaxAttempts == 0 {
		c.Retry.MaxAttempts = 4
	}
	if c.Retry.Delay == 0 {
		c.Retry.Delay = 800 * time.Millisecond
	}
	if c.Retry.MaxDelay == 0 {
		c.Retry.MaxDelay = 30 * time.Second
	}
	if c.Retry.TryTimeout == 0 {
		c.Retry.TryTimeout = 5 * time.Minute
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
	c.SAS = strings.TrimPrefix(c.SAS, "?")
	if c.Account == "" && c.ConnectionString != "" {
		c.Account = connectionStringValue(c.ConnectionString, "AccountName")
	}
	return c
}

// validate reports the first problem of a defaulted configuration.
func (c Config) validate() error {
	secrets := 0
	for _, s := range []string{c.Key, c.SAS, c.ConnectionString} {
		if s != "" {
			secrets++
		}
	}
	switch {
	case secrets > 1:
		return errors.New("set at most one of key, SAS and connection string")
	case c.ConnectionString != "" && c.Endpoint != "":
		return errors.New("endpoint and connection string exclude each other: put BlobEndpoint in the connection string")
	case c.ConnectionString != "" && !sameAccount(c.Account, connectionStringValue(c.ConnectionString, "AccountName")):
		return fmt.Errorf("account %q differs from the connection string's AccountName", c.Account)
	case c.BlockSize < minBlockSize || c.BlockSize > maxBlockSize:
		return fmt.Errorf("block size %d outside [%d, %d]", c.BlockSize, minBlockSize, maxBlockSize)
	case c.Concurrency < 1:
		return fmt.Errorf("concurrency %d below 1", c.Concurrency)
	case c.Retry.MaxAttempts < 1 || c.Retry.Delay < 0 || c.Retry.MaxDelay < 0 || c.Retry.TryTimeout < 0:
		return fmt.Errorf("invalid retry settings %+v", c.Retry)
	}
	if c.Account != "" || c.ConnectionString == "" {
		if err := validateAccount(c.Account); err != nil {
			return err
		}
	}
	if err := validateContainer(c.Container); err != nil {
		return err
	}
	if c.Prefix != "" {
		if err := storage.ValidateKey(c.Prefix); err != nil {
			return fmt.Errorf("prefix: %w", err)
		}
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return fmt.Errorf("endpoint %q is not an http(s) URL without query", c.Endpoint)
		}
	}
	return nil
}

// sameAccount reports whether the configured account agrees with the one in
// the connection string; either may be absent.
func sameAccount(configured, inConnectionString string) bool {
	return configured == "" || inConnectionString == "" || configured == inConnectionString
}

// validateAccount checks the Azure account name rules: 3-24 lowercase
// letters and digits.
func validateAccount(name string) error {
	if len(name) < 3 || len(name) > 24 {
		return fmt.Errorf("account name %q: want 3-24 lowercase letters and digits", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return fmt.Errorf("account name %q: want 3-24 lowercase letters and digits", name)
		}
	}
	return nil
}

// validateContainer checks the Azure container name rules: 3-63 lowercase
// letters, digits and single hyphens, starting and ending with a letter or digit.
func validateContainer(name string) error {
	bad := len(name) < 3 || len(name) > 63 || strings.Contains(name, "--") ||
		strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-")
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("container name %q: want 3-63 lowercase letters, digits and single hyphens", name)
	}
	return nil
}

// connectionStringValue returns the value of field name in an Azure
// connection string ("Name=value;Name=value"), or "".
func connectionStringValue(cs, name string) string {
	for _, part := range strings.Split(cs, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
