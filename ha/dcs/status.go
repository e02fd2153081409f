package dcs

import (
	"encoding/json"
	"fmt"
)

// Status is the status key the leader writes every loop:
//
//	{"optime":24506416,"slots":{"node1":24506416},"retain_slots":["node1"]}
//
// Optime is the leader's last known WAL position, the reference for
// maximum_lag_on_failover after the leader is gone. Slots are the permanent
// slots' positions; RetainSlots the member slots to keep.
type Status struct {
	Optime      uint64            `json:"optime"`
	Slots       map[string]uint64 `json:"slots,omitempty"`
	RetainSlots []string          `json:"retain_slots,omitempty"`
}

// parseStatus decodes the status key: Patroni's JSON, or the legacy bare
// LSN (the old optime/leader key). A bad value is an empty status.
func parseStatus(value []byte) Status {
	var n uint64
	if err := json.Unmarshal(value, &n); err == nil {
		return Status{Optime: n}
	}
	var raw struct {
		Optime      json.RawMessage   `json:"optime"`
		Slots       map[string]uint64 `json:"slots"`
		RetainSlots []string          `json:"retain_slots"`
	}
	if err := json.Unmarshal(value, &raw); err != nil {
		return Status{}
	}
	s := Status{Slots: raw.Slots, RetainSlots: raw.RetainSlots}
	_ = json.Unmarshal(raw.Optime, &s.Optime) // absent or not a number: 0
	return s
}

// encode returns the status key's value.
func (s Status) encode() (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode status: %w", err)
	}
	return string(b), nil
}
