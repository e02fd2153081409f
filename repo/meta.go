package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// Metadata files (pgkeep.json, cluster.json) are JSON for people to read,
// with a "checksum" member: SHA-256 of the document's JSON encoding with
// the checksum empty. They are never encrypted (pgkeep.json holds the
// parameters needed to derive the key) and hold no secret.

type checksummed interface{ setChecksum(string) string }

// marshalMeta encodes doc with its checksum filled in.
func marshalMeta(doc checksummed) ([]byte, error) {
	doc.setChecksum("")
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	doc.setChecksum(hex.EncodeToString(sum[:]))
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// unmarshalMeta decodes data into doc and verifies its checksum.
func unmarshalMeta(key string, data []byte, doc checksummed) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(doc); err != nil {
		return fmt.Errorf("%s: %w: %v", key, ErrCorrupt, err)
	}
	stored := doc.setChecksum("")
	raw, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	if hex.EncodeToString(sum[:]) != stored {
		return fmt.Errorf("%s: %w: checksum mismatch (stored %q)", key, ErrCorrupt, stored)
	}
	doc.setChecksum(stored)
	return nil
}

// readMeta loads a metadata file; a missing one wraps storage.ErrNotFound.
func readMeta(ctx context.Context, s storage.Storage, key string, doc checksummed) error {
	data, err := storage.ReadAll(ctx, s, key)
	if err != nil {
		return err
	}
	return unmarshalMeta(key, data, doc)
}

// createMeta publishes a metadata file only if none exists. When one exists
// it is loaded into existing and ErrExists is returned.
func createMeta(ctx context.Context, s storage.Storage, key string, doc, existing checksummed) error {
	data, err := marshalMeta(doc)
	if err != nil {
		return err
	}
	err = s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{IfAbsent: true})
	if errors.Is(err, storage.ErrExists) {
		if rerr := readMeta(ctx, s, key, existing); rerr != nil {
			return rerr
		}
	}
	return err
}
