package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An encrypted repository: WAL round-trips, the stored bytes never hold
// the plain segment, and a wrong or missing passphrase is a clear error.
func TestEncryptedRepository(t *testing.T) {
	repo := posixRepo(t)
	passFile := filepath.Join(filepath.Dir(repo.path), "cipher.pass")
	writeFile(t, passFile, "correct horse battery staple\n")
	repo.yaml += "  cipher-pass-file: " + passFile + "\n"
	c := startArchiving(t, repo)
	c.pg.Pgbench(t, "-i", "-s", "1", "-q")
	seg := c.switchAndWait(t)

	plain, err := os.ReadFile(c.walPath(seg))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := os.ReadFile(objectPath(c, seg))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range distinctWindows(plain, 32, 50) {
		if bytes.Contains(stored, w) {
			t.Fatalf("the stored object contains plain segment bytes %x", w)
		}
	}

	dest := filepath.Join(c.dir, "restored")
	c.must(t, "archive-get", seg, dest)
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, plain) {
		t.Fatal("encrypted round trip differs")
	}

	wrong := filepath.Join(c.dir, "wrong.pass")
	writeFile(t, wrong, "Tr0ub4dor&3\n")
	r := c.run(t, "archive-get", "--repo-cipher-pass-file", wrong, seg, filepath.Join(c.dir, "x"))
	if r.code < 3 || !strings.Contains(r.stderr, "wrong repository cipher passphrase") {
		t.Fatalf("wrong passphrase: want exit >= 3 and a clear message, got %s", r)
	}
	noPass := filepath.Join(c.dir, "nopass.yaml")
	writeFile(t, noPass, "cluster: e2e\nrepo:\n  path: "+repo.path+"\n")
	r = pgkeep(t, nil, "--config", noPass, "archive-get", seg, filepath.Join(c.dir, "y"))
	if r.code < 3 || !strings.Contains(r.stderr, "encrypted") {
		t.Fatalf("no passphrase: want exit >= 3 naming encryption, got %s", r)
	}
}

// distinctWindows returns up to n windows of size bytes of b that are not
// mostly one byte value, so that finding one in ciphertext means a leak.
func distinctWindows(b []byte, size, n int) [][]byte {
	var out [][]byte
	for i := 8192; i+size <= len(b) && len(out) < n; i += 4093 {
		w := b[i : i+size]
		seen := map[byte]bool{}
		for _, c := range w {
			seen[c] = true
		}
		if len(seen) > size/2 {
			out = append(out, w)
		}
	}
	return out
}
