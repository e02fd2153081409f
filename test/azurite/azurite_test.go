package azurite_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/test/azurite"
)

// TestStart checks that the emulator serves the blob API on loopback.
func TestStart(t *testing.T) {
	az := azurite.Start(t)
	if !strings.HasPrefix(az.Endpoint, "http://127.0.0.1:") || !strings.HasSuffix(az.Endpoint, "/"+azurite.Account) {
		t.Fatalf("endpoint %q", az.Endpoint)
	}
	resp, err := http.Get(az.Endpoint + "?comp=list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Server"); !strings.HasPrefix(got, "Azurite-Blob") {
		t.Fatalf("Server header %q, want Azurite-Blob/...", got)
	}
}
