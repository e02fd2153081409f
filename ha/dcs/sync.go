package dcs

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// SyncState is the sync key: the leader and the standbys it replicates to
// synchronously. Only these may become the leader in synchronous mode.
type SyncState struct {
	ModRevision int64  `json:"-"`
	Leader      string `json:"leader"`
	// SyncStandby is a comma-separated list of member names.
	SyncStandby string `json:"sync_standby"`
	// Quorum is Patroni 4's quorum commit count; 0 otherwise.
	Quorum int `json:"quorum,omitempty"`
}

// Standbys returns the synchronous standbys' names.
func (s SyncState) Standbys() []string {
	if s.Leader == "" {
		return nil
	}
	var out []string
	for _, n := range strings.Split(s.SyncStandby, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// IsSyncStandby reports whether name is one of the synchronous standbys.
// Names compare case-insensitively, as PostgreSQL compares
// synchronous_standby_names.
func (s SyncState) IsSyncStandby(name string) bool {
	return slices.ContainsFunc(s.Standbys(), func(n string) bool { return strings.EqualFold(n, name) })
}

// parseSync decodes the sync key; a bad value is an empty state.
func parseSync(rev int64, value []byte) *SyncState {
	s := &SyncState{ModRevision: rev}
	if err := json.Unmarshal(value, s); err != nil {
		return &SyncState{ModRevision: rev}
	}
	return s
}

// encode returns the sync key's value.
func (s SyncState) encode() (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode sync state: %w", err)
	}
	return string(b), nil
}
