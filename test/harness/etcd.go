package harness

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// etcdReadyTimeout bounds how long a started etcd may take to serve.
const etcdReadyTimeout = 30 * time.Second

// Etcd is a single-member etcd running in the test process.
type Etcd struct {
	// Endpoints are the client URLs, e.g. "http://127.0.0.1:PORT".
	Endpoints []string
	// Client is connected to Endpoints and closed at cleanup.
	Client *clientv3.Client
	// Server is the embedded server, for tests that need to reach inside.
	Server *embed.Etcd
}

// StartEtcd starts an in-process etcd with its data in t.TempDir(), client
// and peer URLs on free 127.0.0.1 ports, and fsync off. It logs only errors,
// to etcd.log in its data directory, whose tail is shown if the test fails.
// It waits until the server is ready (at most 30 s) and closes it, and its
// Client, at cleanup.
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	dir := t.TempDir()
	var srv *embed.Etcd
	for try := 1; ; try++ {
		var err error
		srv, err = startEmbedded(filepath.Join(dir, fmt.Sprint(try)))
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "address already in use") || try == startTries {
			t.Fatalf("harness: %v", err)
		}
		t.Logf("harness: etcd port was taken, trying others: %v", err)
	}
	t.Cleanup(func() {
		srv.Close()
		if t.Failed() {
			t.Logf("harness: etcd log (tail):\n%s", tailLines(readFrom(srv.Config().LogOutputs[0], 0), 40))
		}
	})
	select {
	case <-srv.Server.ReadyNotify():
	case err := <-srv.Err():
		t.Fatalf("harness: embedded etcd failed before ready: %v", err)
	case <-time.After(etcdReadyTimeout):
		t.Fatalf("harness: embedded etcd not ready after %s", etcdReadyTimeout)
	}
	e := &Etcd{Server: srv}
	for _, u := range srv.Config().AdvertiseClientUrls {
		e.Endpoints = append(e.Endpoints, u.String())
	}
	e.Client = e.NewClient(t)
	return e
}

// NewClient returns another client of the server, closed at cleanup.
func (e *Etcd) NewClient(t testing.TB) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   e.Endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("harness: etcd client for %v: %v", e.Endpoints, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// startEmbedded starts etcd on fresh free ports with its data in dir.
func startEmbedded(dir string) (*embed.Etcd, error) {
	clientURL, err := freeURL()
	if err != nil {
		return nil, err
	}
	peerURL, err := freeURL()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create etcd data directory: %w", err)
	}
	cfg := embed.NewConfig()
	cfg.Name = "harness"
	cfg.Dir = dir
	cfg.LogLevel = "error"
	// Even a clean Close logs errors; keep them out of the test output.
	cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}
	cfg.UnsafeNoFsync = true
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	srv, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd on %s: %w", clientURL.String(), err)
	}
	return srv, nil
}

// freeURL returns http://127.0.0.1:PORT for a free port.
func freeURL() (url.URL, error) {
	port, err := freePort()
	if err != nil {
		return url.URL{}, err
	}
	return url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", port)}, nil
}
