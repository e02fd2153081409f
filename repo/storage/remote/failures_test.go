package remote_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
	"github.com/pgkeep/pgkeep/repo/storage/remote"
	"github.com/pgkeep/pgkeep/repo/storage/storagetest"
)

// lookups runs the calls archive-get and info make and returns their errors.
func lookups(s storage.Storage) map[string]error {
	ctx := context.Background()
	_, statErr := s.Stat(ctx, "c/wal/x")
	return map[string]error{
		"get":  s.Get(ctx, "c/wal/x", 0, 0, func(io.Reader) error { return nil }),
		"stat": statErr,
		"list": s.List(ctx, "c/", func(storage.ObjectInfo) error { return nil }),
		"put":  s.Put(ctx, "c/wal/x", strings.NewReader("x"), 1, storage.PutOptions{IfAbsent: true}),
	}
}

// A server that is down is an error that retrying may cure, never
// ErrNotFound.
func TestServerDownIsNotNotFound(t *testing.T) {
	ts := startServer(t, memory.New(), remote.HandlerOptions{Token: rightToken})
	c := ts.client(t, remote.Config{Token: rightToken, DialTimeout: 2 * time.Second})
	ts.Close()
	for op, err := range lookups(c) {
		if err == nil || errors.Is(err, storage.ErrNotFound) || storage.IsPermanent(err) {
			t.Errorf("%s on a stopped server: want a transient error, got %v", op, err)
		} else if !strings.Contains(err.Error(), "repository server "+ts.URL) {
			t.Errorf("%s: error %q does not name the server", op, err)
		}
	}
}

// A 404 that does not come from the repository API (a wrong URL, a proxy)
// is not ErrNotFound: archive-get must not take it for the end of the
// archive. A bare 403 from a proxy is ErrPermission.
func TestForeignAnswers(t *testing.T) {
	p := newPKI(t)
	tlsCfg, err := remote.ServerTLSConfig(p.serverCert, p.serverKey, "")
	if err != nil {
		t.Fatal(err)
	}
	open := func(h http.Handler) storage.Storage {
		srv := startTLS(t, h, tlsCfg)
		c, err := remote.New(context.Background(), remote.Config{URL: srv.URL, CAFile: p.caFile, Token: rightToken})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	for op, err := range lookups(open(http.NotFoundHandler())) {
		if err == nil || errors.Is(err, storage.ErrNotFound) || !strings.Contains(err.Error(), "is it a pgkeep repository API") {
			t.Errorf("%s against a foreign 404: %v", op, err)
		}
	}
	forbidden := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "proxy says no", http.StatusForbidden)
	})
	for op, err := range lookups(open(forbidden)) {
		if !errors.Is(err, storage.ErrPermission) || !strings.Contains(err.Error(), "proxy says no") {
			t.Errorf("%s against a proxy's 403: %v", op, err)
		}
	}
}

// brokenBackend fails reads after 1000 bytes and listings after two
// objects, after the server sent its 200.
type brokenBackend struct{ storage.Storage }

func (b brokenBackend) Get(ctx context.Context, key string, offset, length int64, fn func(io.Reader) error) error {
	return b.Storage.Get(ctx, key, offset, length, func(r io.Reader) error {
		return fn(io.MultiReader(io.LimitReader(r, 1000), iotest.ErrReader(errors.New("disk on fire"))))
	})
}

func (b brokenBackend) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	n := 0
	return b.Storage.List(ctx, prefix, func(info storage.ObjectInfo) error {
		if n++; n > 2 {
			return errors.New("listing on fire")
		}
		return fn(info)
	})
}

// A backend failure after the response started is a read error on the
// client, never a clean (short) end.
func TestBackendFailsMidStream(t *testing.T) {
	ctx := context.Background()
	m := memory.New()
	for _, k := range []string{"c/1", "c/2", "c/3"} {
		data := storagetest.Random(t, 5000)
		if err := m.Put(ctx, k, strings.NewReader(string(data)), 5000, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ts := startServer(t, brokenBackend{m}, remote.HandlerOptions{Token: rightToken})
	c := ts.client(t, remote.Config{Token: rightToken})
	data, err := storage.ReadAll(ctx, c, "c/1")
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("get: %d bytes, err %v; want the server's failure", len(data), err)
	}
	n := 0
	err = c.List(ctx, "c/", func(storage.ObjectInfo) error { n++; return nil })
	if err == nil || !strings.Contains(err.Error(), "listing on fire") || n != 2 {
		t.Fatalf("list: %d objects, err %v; want 2 and the server's failure", n, err)
	}
}

// A response cut off by the network or ended early by a proxy is a read
// error too.
func TestTruncatedResponses(t *testing.T) {
	p := newPKI(t)
	tlsCfg, err := remote.ServerTLSConfig(p.serverCert, p.serverKey, "")
	if err != nil {
		t.Fatal(err)
	}
	for name, abort := range map[string]bool{"connection cut": true, "clean end without trailer": false} {
		srv := startTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/v1/list") {
				w.Write([]byte(`{"key":"c/1","size":1,"mtime":"2026-01-02T03:04:05Z"}` + "\n"))
			} else {
				w.Header().Set("Trailer", "Pgkeep-Sent")
				w.Write(make([]byte, 100))
			}
			if abort {
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}
		}), tlsCfg)
		c, err := remote.New(context.Background(), remote.Config{URL: srv.URL, CAFile: p.caFile, Token: rightToken})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := storage.ReadAll(context.Background(), c, "c/1"); err == nil {
			t.Errorf("%s: get returned no error", name)
		}
		if err := c.List(context.Background(), "c/", func(storage.ObjectInfo) error { return nil }); err == nil {
			t.Errorf("%s: list returned no error", name)
		}
		c.Close()
	}
}
