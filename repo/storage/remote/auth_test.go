package remote_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
	"github.com/pgkeep/pgkeep/repo/storage/remote"
)

const rightToken = "right-token"

// seeded returns a memory backend holding c/existing.
func seeded(t *testing.T) *memory.Memory {
	t.Helper()
	m := memory.New()
	if err := m.Put(context.Background(), "c/existing", strings.NewReader("keep me"), 7, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return m
}

// everyOp runs every storage operation against s, each of which would
// change or reveal c/existing, and returns their errors by name.
func everyOp(s storage.Storage) map[string]error {
	ctx := context.Background()
	errs := map[string]error{}
	put := func(key string, opts storage.PutOptions) error {
		return s.Put(ctx, key, strings.NewReader("intruder"), 8, opts)
	}
	errs["put new"] = put("c/new", storage.PutOptions{IfAbsent: true})
	errs["overwrite"] = put("c/existing", storage.PutOptions{})
	errs["get"] = s.Get(ctx, "c/existing", 0, 0, func(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err })
	_, errs["stat"] = s.Stat(ctx, "c/existing")
	errs["list"] = s.List(ctx, "", func(storage.ObjectInfo) error { return nil })
	errs["remove"] = s.Remove(ctx, "c/existing")
	_, errs["remove-temp"] = storage.RemoveTemp(ctx, s, "c/")
	return errs
}

// assertRefused checks that every operation failed with ErrPermission and
// that the backend still holds exactly what it held before.
func assertRefused(t *testing.T, name string, s storage.Storage, backend storage.Storage, before []string) {
	t.Helper()
	for op, err := range everyOp(s) {
		if !errors.Is(err, storage.ErrPermission) || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s: %s: want ErrPermission, got %v", name, op, err)
		}
	}
	if after := contents(t, backend); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("%s: the backend changed from %v to %v", name, before, after)
	}
}

func TestAuthClient(t *testing.T) {
	backend := seeded(t)
	// Everything allowed: only authentication stands in the way.
	ts := startServer(t, backend, remote.HandlerOptions{Token: rightToken, ClientCerts: true, AllowDelete: true, AllowOverwrite: true})
	before := contents(t, backend)

	refused := map[string]remote.Config{
		"no credentials":       {},
		"wrong token":          {Token: "wrong-token"},
		"stranger certificate": {CertFile: ts.pki.strangerCert, KeyFile: ts.pki.strangerKey},
	}
	for name, cfg := range refused {
		assertRefused(t, name, ts.client(t, cfg), backend, before)
	}
	// The messages say what was refused.
	for name, want := range map[string]string{
		"no credentials":       "wants a token or a client certificate",
		"wrong token":          "refused the token",
		"stranger certificate": "refused the client certificate",
	} {
		_, err := ts.client(t, refused[name]).Stat(context.Background(), "c/existing")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q does not say %q", name, err, want)
		}
	}

	accepted := map[string]remote.Config{
		"right token":        {Token: rightToken},
		"client certificate": {CertFile: ts.pki.clientCert, KeyFile: ts.pki.clientKey},
	}
	for name, cfg := range accepted {
		data, err := storage.ReadAll(context.Background(), ts.client(t, cfg), "c/existing")
		if err != nil || string(data) != "keep me" {
			t.Errorf("%s: read %q, %v", name, data, err)
		}
	}
}

func TestAuthStatusCodes(t *testing.T) {
	backend := seeded(t)
	ts := startServer(t, backend, remote.HandlerOptions{Token: rightToken, ClientCerts: true, AllowDelete: true, AllowOverwrite: true})
	before := contents(t, backend)
	plain := ts.rawClient(t, "", "")
	cases := []struct {
		name   string
		client *http.Client
		auth   string
		want   int
	}{
		{"no credentials", plain, "", http.StatusUnauthorized},
		{"not bearer", plain, "Basic cmlnaHQtdG9rZW4=", http.StatusUnauthorized},
		{"empty bearer", plain, "Bearer ", http.StatusUnauthorized},
		{"wrong token", plain, "Bearer wrong-token", http.StatusForbidden},
		{"token prefix", plain, "Bearer right", http.StatusForbidden},
		{"right token", plain, "Bearer " + rightToken, http.StatusOK},
		{"client certificate", ts.rawClient(t, ts.pki.clientCert, ts.pki.clientKey), "", http.StatusOK},
	}
	for _, tc := range cases {
		status := func(method, path, body string) int {
			req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := tc.client.Do(req)
			if err != nil {
				t.Fatalf("%s: %s %s: %v", tc.name, method, path, err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if got := status(http.MethodGet, "/v1/stat/c/existing", ""); got != tc.want {
			t.Errorf("%s: stat: HTTP %d, want %d", tc.name, got, tc.want)
		}
		if tc.want == http.StatusOK {
			continue
		}
		for _, m := range []struct{ method, path string }{
			{http.MethodPut, "/v1/objects/c/new"}, {http.MethodPut, "/v1/objects/c/existing"},
			{http.MethodDelete, "/v1/objects/c/existing"}, {http.MethodGet, "/v1/list"},
			{http.MethodPost, "/v1/remove-temp?prefix=c/"}, {http.MethodGet, "/no/such/route"},
		} {
			if got := status(m.method, m.path, "intruder"); got != tc.want {
				t.Errorf("%s: %s %s: HTTP %d, want %d", tc.name, m.method, m.path, got, tc.want)
			}
		}
	}
	// A certificate from another CA fails the TLS handshake.
	stranger := ts.rawClient(t, ts.pki.strangerCert, ts.pki.strangerKey)
	if resp, err := stranger.Get(ts.URL + "/v1/stat/c/existing"); err == nil {
		resp.Body.Close()
		t.Errorf("stranger certificate: HTTP %d, want a failed handshake", resp.StatusCode)
	}
	if after := contents(t, backend); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the backend changed from %v to %v", before, after)
	}
}

// A handler without any authentication method is never an open repository.
func TestNoAuthConfiguredRefusesEverything(t *testing.T) {
	backend := seeded(t)
	ts := startServer(t, backend, remote.HandlerOptions{AllowDelete: true, AllowOverwrite: true})
	before := contents(t, backend)
	for name, cfg := range map[string]remote.Config{
		"no credentials":     {},
		"some token":         {Token: "anything"},
		"client certificate": {CertFile: ts.pki.clientCert, KeyFile: ts.pki.clientKey},
	} {
		assertRefused(t, name, ts.client(t, cfg), backend, before)
	}
	req, _ := http.NewRequest(http.MethodPut, ts.URL+"/v1/objects/c/new", bytes.NewReader([]byte("x")))
	resp, err := ts.rawClient(t, "", "").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("no auth configured: HTTP %d, want 403", resp.StatusCode)
	}
}
