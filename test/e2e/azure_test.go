package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/test/azurite"
	"github.com/pgkeep/pgkeep/test/harness"
)

// An unauthorised or unreachable repository is an error (exit >= 3), never
// "not found" (exit 1), which PostgreSQL would take as the end of the archive.
func TestArchiveGetRepositoryUnavailable(t *testing.T) {
	az := azurite.Start(t)
	c := startArchiving(t, azureRepo(t, az))
	seg := c.switchAndWait(t)
	dest := filepath.Join(c.dir, "x")

	wrongKey := "PGKEEP_REPO_AZURE_KEY=" + strings.Repeat("QUJD", 22) // valid base64, wrong key
	r := pgkeep(t, []string{wrongKey}, "--config", c.config, "archive-get", seg, dest)
	if r.code < 3 || !strings.Contains(r.stderr, "access denied") {
		t.Fatalf("wrong key: want exit >= 3 and access denied, got %s", r)
	}
	r = pgkeep(t, []string{wrongKey}, "--config", c.config, "archive-get", "0000000100000000000000FE", dest)
	if r.code < 3 {
		t.Fatalf("wrong key, absent segment: want exit >= 3, got %s", r)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := fmt.Sprintf("http://%s/%s", l.Addr(), az.Account)
	l.Close()
	r = c.run(t, "--repo-azure-endpoint", closed, "archive-get", "0000000100000000000000FE", dest)
	if r.code < 3 {
		t.Fatalf("unreachable endpoint: want exit >= 3, got %s", r)
	}

	// An uninitialised repository (empty container) is not "not found" either.
	empty := filepath.Join(harness.Dir(t), "empty.yaml")
	writeFile(t, empty, fmt.Sprintf("cluster: e2e\nrepo:\n  type: azure\n  azure:\n    account: %s\n    container: pgkeep-empty\n    endpoint: %s\n",
		az.Account, az.Endpoint))
	r = pgkeep(t, c.env, "--config", empty, "archive-get", seg, dest)
	if r.code < 3 || !strings.Contains(r.stderr, "not initialized") {
		t.Fatalf("uninitialised repository: want exit >= 3 and 'not initialized', got %s", r)
	}
}
