package decide

import (
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
)

// Input is everything a member knows when it decides.
type Input struct {
	// Cluster is the latest snapshot of the cluster's keys.
	Cluster dcs.Cluster
	// Settings are the cluster's dynamic settings over the local defaults
	// (Cluster.Settings(defaults)).
	Settings dcs.Settings
	// SafetyMargin is how long before its lease's TTL ends a primary that
	// could not renew demotes itself. It covers the time a demotion takes
	// and the drift between this member's clock and etcd's.
	SafetyMargin time.Duration
	// Self is this member.
	Self Self
	// Peers are the other members as their REST APIs answered just now
	// (with a short timeout); a member of the cluster missing here, or not
	// Reachable, did not answer.
	Peers []MemberState
	// Now is the time of the decision, on the same monotonic clock as
	// Self.LastRenewal.
	Now time.Time
}

// Self is this member's own state.
type Self struct {
	MemberState
	// LastRenewal is when the last successful renewal of this member's
	// lease was sent (dcs.Renewal.SentAt); zero when it never succeeded.
	LastRenewal time.Time
	// Empty: the data directory holds no cluster yet (missing, empty, or
	// an unfinished creation): it must be bootstrapped or cloned.
	Empty bool
	// SystemID is the data directory's system identifier (pg_control),
	// "" when unknown.
	SystemID string
}

// MemberState is one member's PostgreSQL as the member reports it.
type MemberState struct {
	Name string
	// Reachable: the member answered (always true for Self).
	Reachable bool
	Tags      dcs.Tags
	PG        PG
}

// PG is the state of a member's PostgreSQL.
type PG struct {
	// Running: the server accepts connections.
	Running bool
	// InRecovery: pg_is_in_recovery(), a replica (or a demoted primary).
	InRecovery bool
	// Timeline is the timeline the server writes (primary) or replays
	// (replica); for a stopped server, its pg_control's. 0: unknown.
	Timeline uint32
	// LSN is how far the server's WAL goes: the current write position of
	// a primary, the newer of received and replayed of a replica, the end
	// of WAL of a stopped server.
	LSN pg.LSN
	// Streaming: a standby whose WAL receiver streams from its upstream.
	Streaming bool
}

// Primary reports whether the server runs and accepts writes.
func (p PG) Primary() bool { return p.Running && !p.InRecovery }

// Action is what the member does.
type Action int

const (
	// Wait: nothing to do this turn.
	Wait Action = iota
	// Renew: lead. Renew the lease and keep the leader key; PostgreSQL
	// stays primary (is started as primary when Start).
	Renew
	// Acquire: take the free leader key, then promote.
	Acquire
	// Promote: this member holds the leader key and runs in recovery:
	// promote it.
	Promote
	// Demote: stop accepting writes now (read-only), then release the
	// leader key if ReleaseKey, then follow Leader if set.
	Demote
	// Follow: run as a replica of Leader ("" when there is no leader yet:
	// read-only, waiting), rewinding first if Rewind, starting PostgreSQL
	// when Start.
	Follow
	// Bootstrap: the cluster is not initialized: race for the initialize
	// key; the winner creates the cluster (initdb or a backup) and leads.
	Bootstrap
	// CreateReplica: the data directory is empty: create it as a replica
	// of Leader (from the newest backup, or pg_basebackup).
	CreateReplica
)

var actionNames = [...]string{Wait: "wait", Renew: "renew", Acquire: "acquire", Promote: "promote", Demote: "demote", Follow: "follow",
	Bootstrap: "bootstrap", CreateReplica: "create replica"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// Decision is what a member does this turn, and why.
type Decision struct {
	Action Action
	// Reason says why, for people: logs, history, ctl.
	Reason string
	// Leader is the member to follow (Follow, Demote), "" for none.
	Leader string
	// Rewind: run pg_rewind against Leader before following it, because
	// this member's timeline diverged from the leader's.
	Rewind bool
	// ReleaseKey: Demote also releases the leader key this member holds.
	ReleaseKey bool
	// Start: PostgreSQL is stopped and must be started (as primary for
	// Renew, as a replica for Follow).
	Start bool
	// FenceAt is, for a member that leads (Renew, Promote, Acquire), the
	// instant by which its lease must be renewed again; at FenceAt it must
	// no longer accept writes. The agent arms a timer for it, so that a
	// loop stuck in an etcd call still demotes in time. Zero: no deadline.
	FenceAt time.Time
	// ClearFailover: the failover key is done with (carried out, or
	// refused), delete it at its revision.
	ClearFailover bool
	// Election is the election this decision comes from, if any.
	Election *Election
}
