package dcs

import (
	"encoding/json"
	"fmt"
)

// HistoryEntry is one timeline switch in the history key, which Patroni
// writes as a JSON array of arrays:
//
//	[[1, 25165984, "no recovery target specified", "2024-05-01T10:00:00+00:00", "node2"], ...]
//
// Timeline ended at LSN (the switch point); Time and NewLeader are absent in
// entries written by old Patroni versions.
type HistoryEntry struct {
	Timeline  uint32
	LSN       uint64
	Reason    string
	Time      string // Patroni's format, see FormatTime
	NewLeader string
}

// MarshalJSON writes the entry as Patroni's array.
func (e HistoryEntry) MarshalJSON() ([]byte, error) {
	v := []any{e.Timeline, e.LSN, e.Reason}
	if e.Time != "" || e.NewLeader != "" {
		v = append(v, e.Time)
	}
	if e.NewLeader != "" {
		v = append(v, e.NewLeader)
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads Patroni's array of 3 to 5 elements.
func (e *HistoryEntry) UnmarshalJSON(b []byte) error {
	var v []json.RawMessage
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if len(v) < 3 {
		return fmt.Errorf("history entry %s: want at least 3 elements", b)
	}
	var x HistoryEntry
	if err := json.Unmarshal(v[0], &x.Timeline); err != nil {
		return fmt.Errorf("history entry timeline: %w", err)
	}
	if err := json.Unmarshal(v[1], &x.LSN); err != nil {
		return fmt.Errorf("history entry LSN: %w", err)
	}
	_ = json.Unmarshal(v[2], &x.Reason) // free text; may be null
	if len(v) > 3 {
		_ = json.Unmarshal(v[3], &x.Time)
	}
	if len(v) > 4 {
		_ = json.Unmarshal(v[4], &x.NewLeader)
	}
	*e = x
	return nil
}

// History is the history key: the timeline switches, oldest first.
type History struct {
	ModRevision int64
	Entries     []HistoryEntry
}

// SwitchPoint returns the LSN at which timeline tli ended, and false when
// the history does not record it.
func (h *History) SwitchPoint(tli uint32) (uint64, bool) {
	if h == nil {
		return 0, false
	}
	for _, e := range h.Entries {
		if e.Timeline == tli {
			return e.LSN, true
		}
	}
	return 0, false
}

// LastTimeline is the newest timeline the history leads to (the last
// entry's timeline + 1), or 0 without history.
func (h *History) LastTimeline() uint32 {
	if h == nil || len(h.Entries) == 0 {
		return 0
	}
	return h.Entries[len(h.Entries)-1].Timeline + 1
}

// parseHistory decodes the history key; a bad value is an empty history.
func parseHistory(rev int64, value []byte) *History {
	h := &History{ModRevision: rev}
	if err := json.Unmarshal(value, &h.Entries); err != nil {
		h.Entries = nil
	}
	return h
}
