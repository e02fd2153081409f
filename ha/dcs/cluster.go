package dcs

import (
	"slices"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
)

// Cluster is what etcd holds about a cluster, read at one revision.
type Cluster struct {
	// Revision is the etcd revision the snapshot was read at.
	Revision int64
	// Initialize is the system identifier in the initialize key; "" with
	// Initialized false when the key does not exist.
	Initialize  string
	Initialized bool
	// Config is the dynamic configuration; nil without a config key.
	Config *ClusterConfig
	// Leader is the leader key; nil when no member holds it.
	Leader *Leader
	// Members are the member keys, by name.
	Members []Member
	// Failover is a pending switchover/failover request, or nil.
	Failover *Failover
	// Sync is the synchronous replication state, or nil.
	Sync *SyncState
	// History is the timeline history, or nil.
	History *History
	// Status is the leader's last status (zero without a status key).
	Status Status
}

// Leader is the leader key.
type Leader struct {
	// Name is the key's value: the leading member's name.
	Name        string
	ModRevision int64
	// Lease is the ID of the lease the key is attached to.
	Lease int64
}

// Member is one member key.
type Member struct {
	Name        string
	ModRevision int64
	Lease       int64
	Data        MemberData
	// Err is set when the value could not be decoded; Data is then empty,
	// so the member reads as not running.
	Err error
}

// Member returns the member called name.
func (c Cluster) Member(name string) (Member, bool) {
	i := slices.IndexFunc(c.Members, func(m Member) bool { return m.Name == name })
	if i < 0 {
		return Member{}, false
	}
	return c.Members[i], true
}

// LeaderName is the leader key's holder, "" when the key is free.
func (c Cluster) LeaderName() string {
	if c.Leader == nil {
		return ""
	}
	return c.Leader.Name
}

// LeaderMember returns the leader's member key, if both exist.
func (c Cluster) LeaderMember() (Member, bool) {
	if c.Leader == nil {
		return Member{}, false
	}
	return c.Member(c.Leader.Name)
}

// Settings are the dynamic settings of the config key, over defaults.
func (c Cluster) Settings(defaults Settings) Settings { return c.Config.Settings(defaults) }

// parseCluster builds the snapshot from the key-values under the prefix.
// Keys it does not know (Patroni's failsafe, pgkeep's lock) are ignored.
func parseCluster(keys Keys, rev int64, kvs []*mvccpb.KeyValue) Cluster {
	c := Cluster{Revision: rev}
	for _, kv := range kvs {
		name, ok := keys.name(string(kv.Key))
		if !ok {
			continue
		}
		switch name {
		case "leader":
			c.Leader = &Leader{Name: string(kv.Value), ModRevision: kv.ModRevision, Lease: kv.Lease}
		case "initialize":
			c.Initialize, c.Initialized = string(kv.Value), true
		case "config":
			c.Config = parseConfig(kv.ModRevision, kv.Value)
		case "failover":
			if f := parseFailover(kv.ModRevision, kv.Value); !f.Empty() {
				c.Failover = f
			}
		case "sync":
			c.Sync = parseSync(kv.ModRevision, kv.Value)
		case "history":
			c.History = parseHistory(kv.ModRevision, kv.Value)
		case "status":
			c.Status = parseStatus(kv.Value)
		default:
			m, ok := strings.CutPrefix(name, "members/")
			if !ok || m == "" || strings.Contains(m, "/") {
				continue
			}
			data, err := ParseMemberData(kv.Value)
			c.Members = append(c.Members, Member{Name: m, ModRevision: kv.ModRevision, Lease: kv.Lease, Data: data, Err: err})
		}
	}
	slices.SortFunc(c.Members, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return c
}
