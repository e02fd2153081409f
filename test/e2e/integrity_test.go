package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// objectPath is where the posix repository keeps an archived WAL file.
func objectPath(c *cluster, name string) string {
	return filepath.Join(c.repo.path, "e2e", "wal", name[:16], name)
}

// Same name, other content: refused, the archive unchanged. A damaged
// object: archive-get fails loudly and writes nothing. A missing segment:
// exit 1 and silence.
func TestPushConflictCorruptionAndMissing(t *testing.T) {
	c := startArchiving(t, posixRepo(t))
	c.pg.Pgbench(t, "-i", "-s", "1", "-q")
	seg := c.switchAndWait(t)
	obj := objectPath(c, seg)
	stored, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}

	// The same content again: success with a notice.
	if r := c.must(t, "archive-push", c.walPath(seg)); !strings.Contains(r.stderr, "already archived") {
		t.Fatalf("duplicate push gave no notice: %s", r)
	}

	// Other content under the same name.
	plain, err := os.ReadFile(c.walPath(seg))
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Clone(plain)
	other[1<<20] ^= 0xFF
	otherPath := filepath.Join(c.dir, "other", seg)
	if err := os.MkdirAll(filepath.Dir(otherPath), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, otherPath, string(other))
	r := c.run(t, "archive-push", otherPath)
	if r.code < 3 || !strings.Contains(r.stderr, "different content") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("conflicting push: want exit >= 3 and one line about different content, got %s", r)
	}
	if now, _ := os.ReadFile(obj); !bytes.Equal(now, stored) {
		t.Fatal("the refused push changed the stored object")
	}

	// A damaged object in the repository.
	damaged := bytes.Clone(stored)
	damaged[len(damaged)/2] ^= 0x01
	if err := os.WriteFile(obj, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(c.dir, "restored-"+seg)
	r = c.run(t, "archive-get", seg, dest)
	if r.code < 3 || !(strings.Contains(r.stderr, "checksum") || strings.Contains(r.stderr, "corrupt")) {
		t.Fatalf("archive-get of a damaged object: want exit >= 3 and a checksum error, got %s", r)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatalf("archive-get of a damaged object left %s (err %v)", dest, err)
	}
	if entries, _ := os.ReadDir(c.dir); hasPrefix(entries, "restored-") {
		t.Fatalf("archive-get left a temporary file: %v", entries)
	}

	// Pushing the good segment again repairs the damaged copy.
	c.must(t, "archive-push", c.walPath(seg))
	c.must(t, "archive-get", seg, dest)
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, plain) {
		t.Fatal("after the repairing push archive-get differs from pg_wal")
	}

	// Not archived: exit 1, nothing on stderr, nothing written.
	missing := filepath.Join(c.dir, "missing")
	r = c.run(t, "archive-get", "0000000100000000000000FE", missing)
	if r.code != 1 || r.stderr != "" {
		t.Fatalf("missing segment: want exit 1 and silence, got %s", r)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatal("missing segment: a file was written")
	}
}

func hasPrefix(entries []os.DirEntry, prefix string) bool {
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			return true
		}
	}
	return false
}
