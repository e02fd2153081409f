package azure_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/azure"
	"github.com/pgkeep/pgkeep/repo/storage/storagetest"
	"github.com/pgkeep/pgkeep/test/azurite"
)

// containerSAS signs a SAS for the container with the emulator's key.
func containerSAS(t *testing.T, az *azurite.Azurite, key, name string, perms sas.ContainerPermissions) string {
	t.Helper()
	cred, err := container.NewSharedKeyCredential(az.Account, key)
	if err != nil {
		t.Fatal(err)
	}
	qp, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		ExpiryTime:    time.Now().Add(time.Hour),
		Permissions:   perms.String(),
		ContainerName: name,
	}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	return qp.Encode()
}

// roundTrip puts a single-request and a multi-block object and reads them back.
func roundTrip(t *testing.T, s storage.Storage) {
	t.Helper()
	ctx := context.Background()
	for i, data := range [][]byte{[]byte("hello"), storagetest.Random(t, 300<<10)} {
		key := "auth/obj" + string(rune('a'+i))
		if err := s.Put(ctx, key, bytes.NewReader(data), -1, storage.PutOptions{IfAbsent: true}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		got, err := storage.ReadAll(ctx, s, key)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %s: %d bytes, %v; want %d bytes", key, len(got), err, len(data))
		}
		if err := s.Remove(ctx, key); err != nil {
			t.Fatalf("remove %s: %v", key, err)
		}
	}
}

// TestAuth opens the container with each kind of credential.
func TestAuth(t *testing.T) {
	az := azurite.Start(t)
	small := int64(128 << 10)

	t.Run("SharedKey", func(t *testing.T) {
		cfg := keyConfig(t, az)
		cfg.BlockSize = small
		roundTrip(t, open(t, cfg))
	})
	t.Run("ConnectionString", func(t *testing.T) {
		cfg := azure.Config{ConnectionString: az.ConnectionString, Container: containerName(t), BlockSize: small}
		a := open(t, cfg)
		if want := "azure:devstoreaccount1/" + cfg.Container; a.Location() != want {
			t.Errorf("Location() = %q, want %q", a.Location(), want)
		}
		roundTrip(t, a)
	})
	t.Run("SAS", func(t *testing.T) {
		cfg := keyConfig(t, az)
		open(t, cfg) // a container SAS cannot create its container
		cfg.Key, cfg.BlockSize = "", small
		cfg.SAS = containerSAS(t, az, az.Key, cfg.Container,
			sas.ContainerPermissions{Read: true, Add: true, Create: true, Write: true, Delete: true, List: true})
		roundTrip(t, open(t, cfg))
	})
}

// TestAuthRejected checks that refused credentials give ErrPermission, never
// ErrNotFound, and that no secret reaches the message.
func TestAuthRejected(t *testing.T) {
	az := azurite.Start(t)
	wrong := make([]byte, 64)
	if _, err := rand.Read(wrong); err != nil {
		t.Fatal(err)
	}
	wrongKey := base64.StdEncoding.EncodeToString(wrong)
	existing := keyConfig(t, az)
	open(t, existing)

	check := func(t *testing.T, err error, secrets ...string) {
		t.Helper()
		if !errors.Is(err, storage.ErrPermission) || errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("want ErrPermission (and not ErrNotFound), got %v", err)
		}
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) {
				t.Fatalf("error %q shows a secret", err)
			}
		}
	}
	t.Run("WrongKey", func(t *testing.T) {
		for _, name := range []string{existing.Container, containerName(t)} {
			cfg := existing
			cfg.Container, cfg.Key = name, wrongKey
			_, err := azure.New(context.Background(), cfg)
			check(t, err, wrongKey)
		}
	})
	t.Run("WrongSAS", func(t *testing.T) {
		cfg := existing
		cfg.Key = ""
		cfg.SAS = containerSAS(t, az, wrongKey, cfg.Container, sas.ContainerPermissions{Read: true, List: true})
		_, err := azure.New(context.Background(), cfg)
		sig := cfg.SAS[strings.Index(cfg.SAS, "sig=")+4:]
		check(t, err, sig)
	})
	t.Run("ListOnlySAS", func(t *testing.T) {
		cfg := existing
		cfg.Key = ""
		cfg.SAS = containerSAS(t, az, az.Key, cfg.Container, sas.ContainerPermissions{List: true})
		a := open(t, cfg)
		ctx := context.Background()
		check(t, a.Put(ctx, "no/write", bytes.NewReader([]byte("x")), 1, storage.PutOptions{}))
		_, err := a.Stat(ctx, "no/such")
		check(t, err)
		check(t, a.Get(ctx, "no/such", 0, 0, func(io.Reader) error { return nil }))
		check(t, a.Remove(ctx, "no/such"))
	})
}

// TestUnreachable checks that a dead endpoint fails in bounded time with an
// error that is not ErrNotFound, and that New honours its context.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String() + "/" + azurite.Account
	l.Close()
	cfg := azure.Config{Account: azurite.Account, Key: azurite.Key, Endpoint: endpoint, Container: "dead",
		Retry: azure.RetryConfig{MaxAttempts: 3, Delay: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond}}

	start := time.Now()
	_, err = azure.New(context.Background(), cfg)
	if err == nil || errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrPermission) {
		t.Fatalf("New on a closed port: %v", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("New on a closed port took %s", d)
	}

	cfg.Retry = azure.RetryConfig{MaxAttempts: 10, Delay: 2 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = azure.New(ctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("New with a 300ms deadline: %v after %s", err, time.Since(start))
	}
}
