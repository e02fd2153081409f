package ha

import (
	"net/url"
	"strconv"

	"github.com/pgkeep/pgkeep/ha/dcs"
)

// ClusterInfo is the cluster as GET /cluster shows it and `pgkeep ctl list`
// prints it, in the shape of Patroni's GET /cluster.
type ClusterInfo struct {
	Scope   string       `json:"scope"`
	Leader  string       `json:"leader,omitempty"`
	Members []MemberInfo `json:"members"`
	// Pause: maintenance mode, no automatic action.
	Pause bool `json:"pause,omitempty"`
	// ScheduledSwitchover is a pending switchover or failover request.
	ScheduledSwitchover *PendingRequest `json:"scheduled_switchover,omitempty"`
	// LeaderLSN is the reference of the lags: the leader's last known
	// position.
	LeaderLSN uint64 `json:"leader_lsn,omitempty"`
}

// MemberInfo is one member of ClusterInfo.
type MemberInfo struct {
	Name string `json:"name"`
	// Role: leader (holds the leader key), replica, or what the member key
	// says (primary without the key, uninitialized...).
	Role string `json:"role"`
	// State: running, stopped..., or streaming for a replica that streams.
	State    string   `json:"state"`
	APIURL   string   `json:"api_url,omitempty"`
	Host     string   `json:"host,omitempty"`
	Port     int      `json:"port,omitempty"`
	Timeline uint32   `json:"timeline,omitempty"`
	Tags     dcs.Tags `json:"tags,omitempty"`
	// ReceiveLSN and ReplayLSN are a replica's; XLogLocation its member
	// key's position.
	ReceiveLSN   uint64 `json:"receive_lsn,omitempty"`
	ReplayLSN    uint64 `json:"replay_lsn,omitempty"`
	XLogLocation uint64 `json:"xlog_location,omitempty"`
	// Lag is how many bytes a replica is behind the leader's last known
	// position; nil when unknown (not running).
	Lag *uint64 `json:"lag,omitempty"`
}

// PendingRequest is the failover key, for people.
type PendingRequest struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	At   string `json:"at,omitempty"`
}

// NewClusterInfo reads a cluster snapshot: member keys, leader key, config
// (pause) and failover key. The lags are against the newer of the status
// key's optime and the leader's member key.
func NewClusterInfo(c dcs.Cluster, scope string) ClusterInfo {
	info := ClusterInfo{Scope: scope, Leader: c.LeaderName(), Members: []MemberInfo{},
		Pause: c.Settings(dcs.Settings{}).Pause, LeaderLSN: c.Status.Optime}
	if m, ok := c.LeaderMember(); ok {
		info.LeaderLSN = max(info.LeaderLSN, m.Data.XLogLocation)
	}
	if f := c.Failover; f != nil {
		info.ScheduledSwitchover = &PendingRequest{From: f.Leader, To: f.Member}
		if f.ScheduledAt != nil {
			info.ScheduledSwitchover.At = dcs.FormatTime(*f.ScheduledAt)
		}
	}
	for _, m := range c.Members {
		mi := MemberInfo{Name: m.Name, Role: m.Data.Role, State: m.Data.State, APIURL: m.Data.APIURL, Timeline: m.Data.Timeline,
			Tags: m.Data.Tags, ReceiveLSN: m.Data.ReceiveLSN, ReplayLSN: m.Data.ReplayLSN, XLogLocation: m.Data.XLogLocation}
		if m.Data.IsPrimary() {
			mi.Role = dcs.RolePrimary
		}
		if m.Name == info.Leader {
			mi.Role = "leader"
		}
		if mi.State == "" {
			mi.State = "unknown"
		}
		if m.Err != nil {
			mi.State = "unreadable member key"
		}
		if u, err := url.Parse(m.Data.ConnURL); err == nil {
			mi.Host = u.Hostname()
			mi.Port, _ = strconv.Atoi(u.Port())
		}
		if m.Data.IsRunning() && !m.Data.IsPrimary() {
			if m.Data.ReplicationState == dcs.ReplicationStreaming {
				mi.State = dcs.ReplicationStreaming
			}
			pos := max(m.Data.ReceiveLSN, m.Data.ReplayLSN, m.Data.XLogLocation)
			lag := uint64(0)
			if info.LeaderLSN > pos {
				lag = info.LeaderLSN - pos
			}
			mi.Lag = &lag
		}
		if m.Data.IsPrimary() && m.Data.IsRunning() {
			zero := uint64(0)
			mi.Lag = &zero
		}
		info.Members = append(info.Members, mi)
	}
	return info
}
