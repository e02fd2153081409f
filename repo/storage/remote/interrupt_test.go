package remote_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/posix"
	"github.com/pgkeep/pgkeep/repo/storage/remote"
	"github.com/pgkeep/pgkeep/repo/storage/storagetest"
)

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// files lists the regular files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// posixServer serves a posix backend in a new directory.
func posixServer(t *testing.T, opts remote.HandlerOptions) (*testServer, string) {
	t.Helper()
	dir := t.TempDir()
	p, err := posix.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, p, opts), dir
}

// A connection dropped in the middle of a put's body, while the backend is
// writing its temporary file, publishes nothing and replaces nothing.
func TestPutCutShortLeavesNothing(t *testing.T) {
	ts, dir := posixServer(t, remote.HandlerOptions{Token: rightToken, AllowOverwrite: true})
	keep := []byte("the old version")
	if err := ts.backend.Put(context.Background(), "c/keep", bytes.NewReader(keep), int64(len(keep)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ts.pki.ca.cert)
	data := storagetest.Random(t, 300000)
	for _, key := range []string{"c/new", "c/keep"} {
		conn, err := tls.Dial("tcp", ts.Listener.Addr().String(), &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "PUT /v1/objects/%s HTTP/1.1\r\nHost: repo\r\nAuthorization: Bearer %s\r\n"+
			"Transfer-Encoding: chunked\r\nTrailer: Pgkeep-Content-Sha256\r\nPgkeep-Size: %d\r\n\r\n",
			key, rightToken, len(data))
		fmt.Fprintf(conn, "%x\r\n", 200000)
		conn.Write(data[:200000])
		fmt.Fprintf(conn, "\r\n%x\r\n", 100000)
		conn.Write(data[200000:250000]) // half of the last chunk
		waitFor(t, "the backend to write a temporary file", 10*time.Second, func() bool {
			for _, f := range files(t, dir) {
				if strings.Contains(f, ".tmp-") {
					return true
				}
			}
			return false
		})
		conn.Close()
	}
	ts.Close() // waits for the handlers to finish
	if got := files(t, dir); strings.Join(got, " ") != "c/keep" {
		t.Fatalf("files after interrupted puts: %v, want only c/keep", got)
	}
	if got, _ := storage.ReadAll(context.Background(), ts.backend, "c/keep"); !bytes.Equal(got, keep) {
		t.Fatalf("c/keep changed to %q", got)
	}
}

// A put whose body ends cleanly but does not match its declared size or
// checksum (as a truncating proxy would send it) is refused with 400 and
// stores nothing.
func TestPutBodyMustMatchSizeAndChecksum(t *testing.T) {
	ts, dir := posixServer(t, remote.HandlerOptions{Token: rightToken})
	client := ts.rawClient(t, "", "")
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	cases := []struct {
		name, body, size string
		trailer          http.Header // nil: none declared
	}{
		{"no trailer declared", "hello", "5", nil},
		{"trailer never sent", "hello", "5", http.Header{"Pgkeep-Content-Sha256": nil}},
		{"wrong checksum", "hello", "5", http.Header{"Pgkeep-Content-Sha256": {sum("hellO")}}},
		{"shorter than declared", "hello", "9", http.Header{"Pgkeep-Content-Sha256": {sum("hello")}}},
		{"longer than declared", "hello", "3", http.Header{"Pgkeep-Content-Sha256": {sum("hello")}}},
		{"no size", "hello", "", http.Header{"Pgkeep-Content-Sha256": {sum("hello")}}},
	}
	for _, tc := range cases {
		req, err := http.NewRequest(http.MethodPut, ts.URL+"/v1/objects/c/obj", io.MultiReader(strings.NewReader(tc.body)))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1
		req.Trailer = tc.trailer
		req.Header.Set("Authorization", "Bearer "+rightToken)
		if tc.size != "" {
			req.Header.Set("Pgkeep-Size", tc.size)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Pgkeep-Error") != "bad-request" {
			t.Errorf("%s: HTTP %d %q, want 400 bad-request", tc.name, resp.StatusCode, resp.Header.Get("Pgkeep-Error"))
		}
		if got := files(t, dir); len(got) != 0 {
			t.Fatalf("%s: left files %v", tc.name, got)
		}
	}
	// The same request done right is stored.
	req, _ := http.NewRequest(http.MethodPut, ts.URL+"/v1/objects/c/obj", io.MultiReader(strings.NewReader("hello")))
	req.ContentLength = -1
	req.Trailer = http.Header{"Pgkeep-Content-Sha256": {sum("hello")}}
	req.Header.Set("Authorization", "Bearer "+rightToken)
	req.Header.Set("Pgkeep-Size", "5")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("well-formed put: HTTP %d", resp.StatusCode)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "c", "obj")); string(got) != "hello" {
		t.Fatalf("stored %q", got)
	}
}
