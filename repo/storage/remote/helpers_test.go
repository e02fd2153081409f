package remote_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/remote"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// pki is the certificate files of one test: a CA that signed the server's
// certificate and a good client certificate, and a client certificate from
// a stranger CA.
type pki struct {
	ca                        *testCA
	caFile                    string
	serverCert, serverKey     string
	clientCert, clientKey     string
	strangerCert, strangerKey string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	ca, stranger := newCA(t, "pgkeep test CA"), newCA(t, "stranger CA")
	p := &pki{ca: ca, caFile: writeFile(t, dir, "ca.pem", ca.certPEM)}
	cert, key := ca.issue(t, "repo server", true)
	p.serverCert, p.serverKey = writeFile(t, dir, "server.pem", cert), writeFile(t, dir, "server.key", key)
	cert, key = ca.issue(t, "db node", false)
	p.clientCert, p.clientKey = writeFile(t, dir, "client.pem", cert), writeFile(t, dir, "client.key", key)
	cert, key = stranger.issue(t, "db node", false)
	p.strangerCert, p.strangerKey = writeFile(t, dir, "stranger.pem", cert), writeFile(t, dir, "stranger.key", key)
	return p
}

// testServer is the repository API over TLS on a loopback port.
type testServer struct {
	*httptest.Server
	pki     *pki
	backend storage.Storage
}

// startServer serves backend with opts; client certificates of the test
// CA are verified.
func startServer(t *testing.T, backend storage.Storage, opts remote.HandlerOptions) *testServer {
	t.Helper()
	p := newPKI(t)
	tlsCfg, err := remote.ServerTLSConfig(p.serverCert, p.serverKey, p.caFile)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	srv := startTLS(t, remote.NewHandler(backend, opts), tlsCfg)
	return &testServer{Server: srv, pki: p, backend: backend}
}

// startTLS serves h over TLS with cfg on a loopback port.
func startTLS(t *testing.T, h http.Handler, cfg *tls.Config) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = cfg
	srv.Config.ErrorLog = slog.NewLogLogger(quiet.Handler(), slog.LevelError)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// client opens a client of the server; cfg.URL and cfg.CAFile default to
// the server's.
func (ts *testServer) client(t *testing.T, cfg remote.Config) storage.Storage {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = ts.URL
	}
	if cfg.CAFile == "" {
		cfg.CAFile = ts.pki.caFile
	}
	c, err := remote.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawClient is a plain HTTP client trusting the server, presenting the
// given client certificate files when not empty.
func (ts *testServer) rawClient(t *testing.T, certFile, keyFile string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ts.pki.ca.cert)
	cfg := &tls.Config{RootCAs: pool}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// contents lists every object of s as "key:size".
func contents(t *testing.T, s storage.Storage) []string {
	t.Helper()
	var out []string
	err := s.List(context.Background(), "", func(info storage.ObjectInfo) error {
		out = append(out, fmt.Sprintf("%s:%d", info.Key, info.Size))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
