package remote_test

import (
	"testing"

	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
	"github.com/pgkeep/pgkeep/repo/storage/posix"
	"github.com/pgkeep/pgkeep/repo/storage/remote"
	"github.com/pgkeep/pgkeep/repo/storage/storagetest"
)

// The suite runs with deleting and overwriting allowed: it checks the
// storage contract across the wire, the policy is tested on its own.
var permissive = remote.HandlerOptions{
	Token: "conformance-token", ClientCerts: true, AllowDelete: true, AllowOverwrite: true,
}

func TestConformanceMemory(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) (storage.Storage, storage.Storage) {
		ts := startServer(t, memory.New(), permissive)
		cfg := remote.Config{Token: permissive.Token}
		return ts.client(t, cfg), ts.client(t, cfg)
	})
}

func TestConformancePosix(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) (storage.Storage, storage.Storage) {
		p, err := posix.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		ts := startServer(t, p, permissive)
		// One client by token, the other by certificate.
		return ts.client(t, remote.Config{Token: permissive.Token}),
			ts.client(t, remote.Config{CertFile: ts.pki.clientCert, KeyFile: ts.pki.clientKey})
	})
}
