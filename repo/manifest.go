package repo

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// Backup types.
const (
	BackupFull = "full"
	BackupDiff = "diff"
	BackupIncr = "incr"
)

// ErrNoBackup: no backup with that label exists.
var ErrNoBackup = errors.New("no such backup")

// Manifest describes one backup. It is written last, under
// <cluster>/backup/<label>/manifest, as an object (compressed, checksummed,
// encrypted like every other): a backup exists exactly when its manifest does.
type Manifest struct {
	Label          string   `json:"label"`
	Type           string   `json:"type"`             // full, diff or incr
	Parent         string   `json:"parent,omitempty"` // diff: the full; incr: the previous backup
	Chain          []string `json:"chain,omitempty"`  // every backup whose objects this one references, oldest first
	Cluster        string   `json:"cluster"`
	SystemID       uint64   `json:"system-id,string"`
	PGVersion      int      `json:"pg-version"`
	PGVersionNum   int      `json:"pg-version-num"`
	WALSegmentSize int64    `json:"wal-segment-size"`
	Source         string   `json:"source"` // host:port the backup was taken from

	Timeline  uint32    `json:"timeline"`
	StartLSN  string    `json:"start-lsn"` // PostgreSQL notation, e.g. 0/5000028
	StopLSN   string    `json:"stop-lsn"`
	StartWAL  string    `json:"start-wal"` // segment holding StartLSN
	StopWAL   string    `json:"stop-wal"`  // segment holding StopLSN
	StartTime time.Time `json:"start-time"`
	StopTime  time.Time `json:"stop-time"`

	Tablespaces []Tablespace `json:"tablespaces,omitempty"`
	Dirs        []Dir        `json:"dirs"`
	Files       []File       `json:"files"`
	ConfigFiles []File       `json:"config-files,omitempty"` // Path is the absolute path on the source host

	Size       int64 `json:"size"`        // plain bytes of every file
	StoredSize int64 `json:"stored-size"` // bytes this backup itself added to the repository
	Bundles    int   `json:"bundles"`     // number of bundle objects of this backup
}

// Tablespace is a user tablespace: pg_tblspc/<OID> links to Location.
type Tablespace struct {
	OID      uint32 `json:"oid"`
	Location string `json:"location"`
}

// Dir is a directory of PGDATA (relative path, slash-separated).
type Dir struct {
	Path string `json:"path"`
	Mode uint32 `json:"mode"`
}

// File is one file of the backup. Path is relative to PGDATA
// ("base/5/1259", "pg_tblspc/16385/PG_15_202209061/5/16386") and
// slash-separated. Its content is the concatenation of its parts.
type File struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	Mode    uint32    `json:"mode"`
	ModTime time.Time `json:"mtime"`
	Parts   []Part    `json:"parts"`
}

// Part is a stretch of a file stored as one encoded object inside a bundle:
// bytes [Offset, Offset+Size) of the file. Label names the backup whose
// bundle holds it (itself, or an earlier backup of the chain for an
// unchanged part of a diff/incr backup).
type Part struct {
	Offset  int64    `json:"offset"`
	Size    int64    `json:"size"`
	Digest  Digest   `json:"digest"`
	Quick   QuickSum `json:"xxh3,omitzero"` // for delta restores; zero in backups of earlier versions
	Label   string   `json:"label"`
	Bundle  int      `json:"bundle"`
	BOffset int64    `json:"boffset"` // where the encoded part starts in the bundle
	BLength int64    `json:"blength"` // its encoded length
}

// MarshalJSON writes a digest as hex.
func (d Digest) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a hex digest.
func (d *Digest) UnmarshalJSON(b []byte) error { return unmarshalHex(b, d[:], "digest") }

// unmarshalHex reads a JSON string of exactly 2*len(dst) hex digits into dst.
func unmarshalHex(b, dst []byte, what string) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		return fmt.Errorf("%s %q: want %d hex digits", what, s, 2*len(dst))
	}
	copy(dst, b)
	return nil
}

// BackupPrefix is where a cluster's backups live.
func BackupPrefix(cluster string) string { return cluster + "/backup/" }

// ManifestKey is the key of a backup's manifest.
func ManifestKey(cluster, label string) string {
	return BackupPrefix(cluster) + label + "/manifest"
}

// BundleKey is the key of bundle n of a backup.
func BundleKey(cluster, label string, n int) string {
	return fmt.Sprintf("%s%s/bundle/%06d", BackupPrefix(cluster), label, n)
}

// labelRe matches full labels (20261122-101500F) and diff/incr labels
// (20261122-101500F_20261122-111500D / I).
var labelRe = regexp.MustCompile(`^\d{8}-\d{6}F(_\d{8}-\d{6}[DI])?$`)

// ValidLabel reports whether s is a backup label.
func ValidLabel(s string) bool { return labelRe.MatchString(s) }

// NewLabel makes the label of a backup started at t: YYYYMMDD-HHMMSSF for a
// full backup, <full label>_YYYYMMDD-HHMMSS{D,I} for diff and incr.
func NewLabel(typ string, fullLabel string, t time.Time) string {
	stamp := t.UTC().Format("20060102-150405")
	switch typ {
	case BackupDiff:
		return fullLabel + "_" + stamp + "D"
	case BackupIncr:
		return fullLabel + "_" + stamp + "I"
	}
	return stamp + "F"
}

// WriteManifest publishes m: the commit point of the backup. It fails with
// storage.ErrExists if the label is taken.
func (r *Repo) WriteManifest(ctx context.Context, m *Manifest) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if _, _, err := r.PutObject(ctx, ManifestKey(m.Cluster, m.Label), data, true); err != nil {
		return fmt.Errorf("write manifest of %s: %w", m.Label, err)
	}
	return nil
}

// ReadManifest loads and verifies the manifest of label; an unknown label
// wraps ErrNoBackup.
func (r *Repo) ReadManifest(ctx context.Context, cluster, label string) (*Manifest, error) {
	var buf bytes.Buffer
	if _, err := r.ReadObject(ctx, ManifestKey(cluster, label), &buf); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("backup %s of cluster %s: %w", label, cluster, ErrNoBackup)
		}
		return nil, fmt.Errorf("manifest of %s: %w", label, err)
	}
	var m Manifest
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		return nil, fmt.Errorf("manifest of %s: %w: %v", label, ErrCorrupt, err)
	}
	return &m, nil
}

// Backups lists the labels of the cluster's complete backups (those with a
// manifest), oldest first.
func (r *Repo) Backups(ctx context.Context, cluster string) ([]string, error) {
	var labels []string
	err := r.store.List(ctx, BackupPrefix(cluster), func(info storage.ObjectInfo) error {
		rest := strings.TrimPrefix(info.Key, BackupPrefix(cluster))
		if label, ok := strings.CutSuffix(rest, "/manifest"); ok && ValidLabel(label) {
			labels = append(labels, label)
		}
		return nil
	})
	sort.Strings(labels) // the timestamp order of labels is their age order
	return labels, err
}

// Manifests loads every complete backup's manifest, oldest first.
func (r *Repo) Manifests(ctx context.Context, cluster string) ([]*Manifest, error) {
	labels, err := r.Backups(ctx, cluster)
	if err != nil {
		return nil, err
	}
	out := make([]*Manifest, 0, len(labels))
	for _, l := range labels {
		m, err := r.ReadManifest(ctx, cluster, l)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// ReadPart decodes one part into w, verifying its checksum against both the
// object's trailer and the manifest's digest.
func (r *Repo) ReadPart(ctx context.Context, cluster string, p Part, w io.Writer) error {
	key := BundleKey(cluster, p.Label, p.Bundle)
	err := r.store.Get(ctx, key, p.BOffset, p.BLength, func(rd io.Reader) error {
		or, err := r.codec.NewReader(rd)
		if err != nil {
			return err
		}
		var q *QuickHasher
		if !p.Quick.IsZero() {
			q = NewQuickHasher()
			w = io.MultiWriter(w, q)
		}
		n, err := io.Copy(w, or)
		if err != nil {
			return err
		}
		if n != p.Size || or.Digest() != p.Digest {
			return fmt.Errorf("%w: checksum mismatch: manifest says %d bytes %s, object holds %d bytes %s",
				ErrCorrupt, p.Size, p.Digest, n, or.Digest())
		}
		if q != nil && q.Sum() != p.Quick {
			return fmt.Errorf("%w: manifest's xxh3 %s does not match the part's %s", ErrCorrupt, p.Quick, q.Sum())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s@%d: %w", key, p.BOffset, err)
	}
	return nil
}
