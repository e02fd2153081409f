package decide

import (
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
)

// empty is a member whose data directory holds no cluster yet.
func empty(name string) Self {
	s := self(name, PG{}, time.Second, nil)
	s.Empty = true
	return s
}

func initialized(c dcs.Cluster, sysid string) dcs.Cluster {
	c.Initialize, c.Initialized = sysid, true
	return c
}

func TestDecideLifecycle(t *testing.T) {
	paused := settings
	paused.Pause = true
	withSysID := func(s Self, id string) Self { s.SystemID = id; return s }
	for _, r := range []row{{
		name:    "empty, no initialize key: race to bootstrap",
		cluster: cluster("", "a", "b", "c"),
		self:    empty("a"),
		action:  Bootstrap, reason: "not initialized",
	}, {
		name:    "empty, another member is bootstrapping (initialize key without a system id)",
		cluster: initialized(cluster("", "a", "b"), ""),
		self:    empty("b"),
		action:  Wait, reason: "bootstrapping",
	}, {
		name:    "empty, initialized, no leader: wait",
		cluster: initialized(cluster("", "a", "b"), "7123"),
		self:    empty("b"),
		action:  Wait, reason: "waiting for a leader",
	}, {
		name:    "empty, a running leader: clone it",
		cluster: initialized(cluster("a", "a", "b"), "7123"),
		self:    empty("b"),
		action:  CreateReplica, leader: "a", reason: "creating a replica of the leader a",
	}, {
		name: "empty, the leader's PostgreSQL is not running: wait",
		cluster: initialized(with(cluster("a", "a", "b"), func(c *dcs.Cluster) {
			c.Members[0].Data.State = dcs.StateStopped
		}), "7123"),
		self:   empty("b"),
		action: Wait, leader: "a", reason: "to run",
	}, {
		name:    "empty while holding the leader key: release it",
		cluster: initialized(cluster("b", "a", "b"), "7123"),
		self:    empty("b"),
		action:  Wait, release: true, reason: "releasing",
	}, {
		name:     "empty in maintenance mode: nothing",
		cluster:  cluster("", "a"),
		settings: &paused,
		self:     empty("a"),
		action:   Wait, reason: "pause",
	}, {
		name:    "a data directory of another system is refused",
		cluster: initialized(cluster("a", "a", "b"), "7123"),
		self:    withSysID(self("b", replica(5<<20, 1), time.Second, nil), "7999"),
		action:  Wait, reason: "refusing to run: the data directory holds system 7999, the cluster was initialized with system 7123",
	}, {
		name:    "a data directory of the cluster's system follows",
		cluster: initialized(cluster("a", "a", "b"), "7123"),
		self:    withSysID(self("b", replica(5<<20, 1), time.Second, nil), "7123"),
		action:  Follow, leader: "a", reason: "following",
	}, {
		name:    "before the system id is known (initialize key empty) a data directory is not refused",
		cluster: initialized(cluster("a", "a", "b"), ""),
		self:    withSysID(self("a", primary(5<<20, 1), time.Second, nil), "7123"),
		action:  Renew, reason: "renewing",
	}} {
		t.Run(r.name, r.run)
	}
}
