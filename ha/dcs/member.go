package dcs

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// Roles a member reports in its key, as Patroni writes them.
const (
	RolePrimary       = "primary"
	RoleReplica       = "replica"
	RoleStandbyLeader = "standby_leader"
	RoleUninitialized = "uninitialized"
	// RoleMaster is what Patroni before 4.0 writes for a primary; it is
	// read as RolePrimary and never written.
	RoleMaster = "master"
)

// States of a member's PostgreSQL, as Patroni writes them.
const (
	StateRunning         = "running"
	StateStarting        = "starting"
	StateStopping        = "stopping"
	StateStopped         = "stopped"
	StateRestarting      = "restarting"
	StateCrashed         = "crashed"
	StateStartFailed     = "start failed"
	StateCreatingReplica = "creating replica"
)

// ReplicationStreaming is the replication_state of a replica that streams
// from its upstream (Patroni also writes "in archive recovery").
const ReplicationStreaming = "streaming"

// MemberData is the JSON value of a member key. The field order is the
// order Patroni writes them in, so that the encoding is byte for byte what
// Patroni writes for the same member (compact, without spaces).
type MemberData struct {
	// ConnURL is postgres://host:port/dbname (no password).
	ConnURL string `json:"conn_url"`
	// APIURL is the member's REST API, http(s)://host:port/patroni.
	APIURL string `json:"api_url"`
	State  string `json:"state"`
	Role   string `json:"role"`
	// Version is the agent's version, which Patroni parses as dotted numbers.
	Version                string `json:"version,omitempty"`
	CheckpointAfterPromote *bool  `json:"checkpoint_after_promote,omitempty"`
	Tags                   Tags   `json:"tags,omitempty"`
	PendingRestart         bool   `json:"pending_restart,omitempty"`
	// XLogLocation is the WAL position: written on a primary, replayed (or
	// received) on a replica. Absent (0) while PostgreSQL is not running.
	XLogLocation     uint64 `json:"xlog_location,omitempty"`
	ReplayLSN        uint64 `json:"replay_lsn,omitempty"`
	ReceiveLSN       uint64 `json:"receive_lsn,omitempty"`
	ReplicationState string `json:"replication_state,omitempty"`
	Timeline         uint32 `json:"timeline,omitempty"`
	Pause            bool   `json:"pause,omitempty"`
}

// IsPrimary reports whether the member says it runs as a primary.
func (m MemberData) IsPrimary() bool { return m.Role == RolePrimary || m.Role == RoleMaster }

// IsRunning reports whether the member says its PostgreSQL runs.
func (m MemberData) IsRunning() bool { return m.State == StateRunning }

// Encode returns the value written to the member key.
func (m MemberData) Encode() (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode member: %w", err)
	}
	return string(b), nil
}

// ParseMemberData decodes a member key's value: Patroni's JSON, or the
// legacy form postgres://...?application_name=<api_url>. A value that is
// neither is an error.
func ParseMemberData(value []byte) (MemberData, error) {
	s := strings.TrimSpace(string(value))
	if strings.HasPrefix(s, "postgres") {
		u, err := url.Parse(s)
		if err != nil {
			return MemberData{}, fmt.Errorf("legacy member value: not a URL")
		}
		api := u.Query().Get("application_name")
		u.RawQuery = ""
		return MemberData{ConnURL: u.String(), APIURL: api}, nil
	}
	var m MemberData
	if err := json.Unmarshal(value, &m); err != nil {
		return MemberData{}, fmt.Errorf("not a member's JSON: %w", err)
	}
	return m, nil
}
