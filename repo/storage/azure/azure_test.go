package azure_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/azure"
	"github.com/pgkeep/pgkeep/repo/storage/storagetest"
	"github.com/pgkeep/pgkeep/test/azurite"
)

var containerSeq atomic.Int64

// containerName returns a fresh valid container name derived from the test.
func containerName(t testing.TB) string {
	h := fnv.New32a()
	h.Write([]byte(t.Name()))
	return fmt.Sprintf("t%d-%08x", containerSeq.Add(1), h.Sum32())
}

// keyConfig returns a shared-key configuration of a fresh container.
func keyConfig(t testing.TB, az *azurite.Azurite) azure.Config {
	return azure.Config{
		Account:   az.Account,
		Key:       az.Key,
		Endpoint:  az.Endpoint,
		Container: containerName(t),
	}
}

// open constructs an Azure and closes it at cleanup.
func open(t testing.TB, cfg azure.Config) *azure.Azure {
	t.Helper()
	a, err := azure.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("new %s: %v", cfg, err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// TestConformance runs the storage suite against Azurite, once with the
// default block size and once with 1 MiB blocks (so that the suite's 9 and
// 21 MiB objects take several blocks) under a key prefix.
func TestConformance(t *testing.T) {
	az := azurite.Start(t)
	variants := []struct {
		name string
		tune func(*azure.Config)
	}{
		{"DefaultBlocks", func(*azure.Config) {}},
		{"SmallBlocksPrefix", func(c *azure.Config) {
			c.BlockSize = 1 << 20
			c.Concurrency = 3
			c.Prefix = "pg/main"
		}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) (storage.Storage, storage.Storage) {
				cfg := keyConfig(t, az)
				v.tune(&cfg)
				return open(t, cfg), open(t, cfg)
			})
		})
	}
}

// TestLocation checks the storage's name.
func TestLocation(t *testing.T) {
	az := azurite.Start(t)
	cfg := keyConfig(t, az)
	cfg.Prefix = "/pg/main/"
	want := "azure:devstoreaccount1/" + cfg.Container + "/pg/main"
	if got := open(t, cfg).Location(); got != want {
		t.Fatalf("Location() = %q, want %q", got, want)
	}
}

// TestConfigRedacted checks that printing a Config hides its secrets.
func TestConfigRedacted(t *testing.T) {
	cfg := azure.Config{Account: "acct", Container: "c1c", Key: "c2VjcmV0LWtleQ==", SAS: "sv=1&sig=abc", ConnectionString: "AccountKey=zzz"}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)} {
		for _, secret := range []string{cfg.Key, "sig=abc", "zzz"} {
			if strings.Contains(s, secret) {
				t.Fatalf("%q shows secret %q", s, secret)
			}
		}
	}
}

// TestConfigInvalid checks that New refuses bad configurations before
// touching the network.
func TestConfigInvalid(t *testing.T) {
	base := azure.Config{Account: "acct", Container: "backups", Key: "a2V5"}
	for name, tune := range map[string]func(*azure.Config){
		"two secrets":     func(c *azure.Config) { c.SAS = "sv=1&sig=x" },
		"short container": func(c *azure.Config) { c.Container = "ab" },
		"upper container": func(c *azure.Config) { c.Container = "Backups" },
		"double hyphen":   func(c *azure.Config) { c.Container = "a--b" },
		"no account":      func(c *azure.Config) { c.Account = "" },
		"bad prefix":      func(c *azure.Config) { c.Prefix = "a/../b" },
		"tiny blocks":     func(c *azure.Config) { c.BlockSize = 1000 },
		"endpoint query":  func(c *azure.Config) { c.Endpoint = "http://127.0.0.1:1/x?sig=1" },
		"endpoint and cs": func(c *azure.Config) { c.Key = ""; c.ConnectionString = "AccountName=acct"; c.Endpoint = "http://x/" },
	} {
		cfg := base
		tune(&cfg)
		if _, err := azure.New(context.Background(), cfg); err == nil {
			t.Errorf("%s: New accepted %s", name, cfg)
		}
	}
}
