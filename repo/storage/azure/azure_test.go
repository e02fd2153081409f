package azure_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
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

// TestIfAbsentRaceBlocks races IfAbsent puts of multi-block objects: staging
// writers lose their blocks to the winner's commit and must see ErrExists.
func TestIfAbsentRaceBlocks(t *testing.T) {
	az := azurite.Start(t)
	cfg := keyConfig(t, az)
	cfg.BlockSize = 256 << 10
	a := open(t, cfg)
	var wins, exists atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := bytes.Repeat([]byte{byte(i)}, 1<<20+i)
			size := int64(len(data))
			if i%2 == 1 {
				size = -1
			}
			err := a.Put(context.Background(), "race/big", bytes.NewReader(data), size, storage.PutOptions{IfAbsent: true})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, storage.ErrExists):
				exists.Add(1)
			default:
				t.Errorf("racing put %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || exists.Load() != 5 {
		t.Fatalf("%d wins, %d ErrExists; want 1 and 5", wins.Load(), exists.Load())
	}
	got, err := storage.ReadAll(context.Background(), a, "race/big")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 1<<20 || !bytes.Equal(got, bytes.Repeat(got[:1], len(got))) || len(got) != 1<<20+int(got[0]) {
		t.Fatal("the race left a mixed object")
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
