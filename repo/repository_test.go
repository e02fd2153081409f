package repo

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
)

func TestInitOpenCipher(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	if _, err := Open(ctx, Options{Storage: s}); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("open of an empty storage: %v", err)
	}
	// A pass that random base64 (salt, key check) cannot contain by chance.
	const pass = "correct horse battery staple"
	r, err := Init(ctx, Options{Storage: s, CipherPass: []byte(pass), Compression: CompressZstd})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := storage.ReadAll(ctx, s, formatKey)
	if strings.Contains(string(raw), pass) || !strings.Contains(string(raw), `"checksum"`) {
		t.Fatalf("pgkeep.json: %s", raw)
	}
	if _, _, err := r.PutObject(ctx, "c/obj", []byte("hello"), true); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pass []byte
		want string
	}{
		{[]byte("wrong"), "wrong repository cipher passphrase"},
		{nil, "repository is encrypted"},
	} {
		if _, err := Open(ctx, Options{Storage: s, CipherPass: tc.pass}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("open with pass %q: %v", tc.pass, err)
		}
	}
	// Init again with the right pass opens the existing repository.
	r2, err := Init(ctx, Options{Storage: s, CipherPass: []byte(pass)})
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	if _, err := r2.ReadObject(ctx, "c/obj", &got); err != nil || got.String() != "hello" {
		t.Fatalf("read back %q, %v", got.String(), err)
	}
	// A damaged pgkeep.json is reported as corrupt, not as missing.
	damaged := strings.Replace(string(raw), `"format": 1`, `"format": 2`, 1)
	if err := s.Put(ctx, formatKey, strings.NewReader(damaged), -1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, Options{Storage: s, CipherPass: []byte(pass)}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open with a damaged pgkeep.json: %v", err)
	}
}

func TestPassphraseForUnencryptedRepository(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	if _, err := Init(ctx, Options{Storage: s}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, Options{Storage: s, CipherPass: []byte("x")}); err == nil || !strings.Contains(err.Error(), "not encrypted") {
		t.Fatalf("pass for an unencrypted repository: %v", err)
	}
}

func TestCreateCluster(t *testing.T) {
	ctx := context.Background()
	r, err := Init(ctx, Options{Storage: memory.New()})
	if err != nil {
		t.Fatal(err)
	}
	info := ClusterInfo{Name: "main", SystemID: 7310000000000000001, PGVersion: 15, WALSegmentSize: 16 << 20}
	if _, created, err := r.CreateCluster(ctx, info); err != nil || !created {
		t.Fatalf("first create: %v %v", created, err)
	}
	if _, created, err := r.CreateCluster(ctx, info); err != nil || created {
		t.Fatalf("same system again: %v %v", created, err)
	}
	other := info
	other.SystemID = 7310000000000000002
	_, _, err = r.CreateCluster(ctx, other)
	if !errors.Is(err, ErrClusterMismatch) || !strings.Contains(err.Error(), "7310000000000000001") || !strings.Contains(err.Error(), "7310000000000000002") {
		t.Fatalf("other system: %v", err)
	}
	got, err := r.Cluster(ctx, "main")
	if err != nil || got.SystemID != info.SystemID {
		t.Fatalf("cluster: %+v %v", got, err)
	}
	if _, err := r.Cluster(ctx, "nope"); !errors.Is(err, ErrNoCluster) {
		t.Fatalf("unknown cluster: %v", err)
	}
	if names, err := r.Clusters(ctx); err != nil || len(names) != 1 || names[0] != "main" {
		t.Fatalf("clusters: %v %v", names, err)
	}
	if _, _, err := r.CreateCluster(ctx, ClusterInfo{Name: "../x"}); err == nil {
		t.Fatal("invalid name accepted")
	}
}
