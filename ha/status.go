package ha

import (
	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/ha/decide"
	"github.com/pgkeep/pgkeep/pg"
)

// memberStatus is what GET /patroni answers, in the shape of Patroni's
// (the fields the agents read from each other, and HAProxy's operators
// from them).
type memberStatus struct {
	State           string     `json:"state"`
	Role            string     `json:"role"`
	Timeline        uint32     `json:"timeline,omitempty"`
	XLog            xlogStatus `json:"xlog"`
	Tags            dcs.Tags   `json:"tags,omitempty"`
	ClusterUnlocked bool       `json:"cluster_unlocked"`
	// ReplicationState is "streaming" for a standby whose WAL receiver
	// streams.
	ReplicationState string `json:"replication_state,omitempty"`
	Pause            bool   `json:"pause,omitempty"`
	// ServerVersion (170002 for 17.2), DatabaseSystemIdentifier and
	// PostmasterStartTime: the server's identity; DCSLastSeen: when etcd
	// last answered (Unix seconds).
	ServerVersion            int    `json:"server_version,omitempty"`
	DatabaseSystemIdentifier string `json:"database_system_identifier,omitempty"`
	PostmasterStartTime      string `json:"postmaster_start_time,omitempty"`
	DCSLastSeen              int64  `json:"dcs_last_seen,omitempty"`
	Patroni                  struct {
		Version string `json:"version,omitempty"`
		Name    string `json:"name"`
		Scope   string `json:"scope"`
	} `json:"patroni"`
}

// xlogStatus is Patroni's "xlog": location on a primary, received and
// replayed locations on a standby.
type xlogStatus struct {
	Location         uint64 `json:"location,omitempty"`
	ReceivedLocation uint64 `json:"received_location,omitempty"`
	ReplayedLocation uint64 `json:"replayed_location,omitempty"`
}

// statusOf renders a view.
func (a *Agent) statusOf(v view) memberStatus {
	s := memberStatus{State: dcs.StateStopped, Role: dcs.RoleReplica, Timeline: v.pg.Timeline, Tags: a.o.Tags,
		ClusterUnlocked: v.cluster.Leader == nil, Pause: v.settings.Pause}
	s.Patroni.Name, s.Patroni.Scope, s.Patroni.Version = a.o.Name, a.o.Cluster, agentVersion()
	id, seen := a.identityNow()
	s.ServerVersion, s.DatabaseSystemIdentifier = id.ServerVersion, id.SystemID
	if !id.StartTime.IsZero() && v.pg.Running {
		s.PostmasterStartTime = dcs.FormatTime(id.StartTime)
	}
	if !seen.IsZero() {
		s.DCSLastSeen = seen.Unix()
	}
	if v.pg.Running {
		s.State = dcs.StateRunning
	}
	switch {
	case v.pg.Primary():
		s.Role = dcs.RolePrimary
		s.XLog.Location = uint64(v.pg.LSN)
	case v.pg.Running:
		s.XLog.ReceivedLocation, s.XLog.ReplayedLocation = uint64(v.pg.Receive), uint64(v.pg.Replay)
		if v.pg.Streaming {
			s.ReplicationState = dcs.ReplicationStreaming
		}
	}
	return s
}

// memberState reads another member's answer: a primary's position is its
// location, a standby's the newer of received and replayed.
func (s memberStatus) memberState(name string) decide.MemberState {
	st := decide.MemberState{Name: name, Reachable: true, Tags: s.Tags, PG: decide.PG{
		Running: s.State == dcs.StateRunning, Timeline: s.Timeline,
		InRecovery: s.Role != dcs.RolePrimary && s.Role != dcs.RoleMaster, Streaming: s.ReplicationState == dcs.ReplicationStreaming}}
	if st.PG.InRecovery {
		st.PG.LSN = pg.LSN(max(s.XLog.ReceivedLocation, s.XLog.ReplayedLocation))
	} else {
		st.PG.LSN = pg.LSN(s.XLog.Location)
	}
	return st
}
