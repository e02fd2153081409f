package repo

import (
	"encoding/hex"
	"encoding/json"

	"github.com/zeebo/xxh3"
)

// QuickSum is the 128-bit XXH3 of a part's plain content, recorded in the
// manifest beside its SHA-256 Digest. It is not a cryptographic checksum:
// it answers only "are the bytes already on disk the part's bytes?" for a
// delta restore, which would otherwise spend most of its CPU on SHA-256.
// Whatever is read from the repository is still verified by Digest. The
// zero value means "not recorded" (parts of backups made before it was).
type QuickSum [16]byte

// QuickSumOf returns the QuickSum of b.
func QuickSumOf(b []byte) QuickSum { return xxh3.Hash128(b).Bytes() }

// QuickHasher computes a QuickSum incrementally.
type QuickHasher struct{ h *xxh3.Hasher }

// NewQuickHasher returns an empty QuickHasher.
func NewQuickHasher() *QuickHasher { return &QuickHasher{h: xxh3.New()} }

// Write adds p; it never fails.
func (q *QuickHasher) Write(p []byte) (int, error) { return q.h.Write(p) }

// Sum returns the QuickSum of what was written.
func (q *QuickHasher) Sum() QuickSum { return q.h.Sum128().Bytes() }

// IsZero reports whether the sum was not recorded.
func (s QuickSum) IsZero() bool { return s == QuickSum{} }

func (s QuickSum) String() string { return hex.EncodeToString(s[:]) }

// MarshalJSON writes the sum as hex.
func (s QuickSum) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a hex sum.
func (s *QuickSum) UnmarshalJSON(b []byte) error { return unmarshalHex(b, s[:], "xxh3") }
