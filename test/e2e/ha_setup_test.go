package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/agentconf"
	"github.com/pgkeep/pgkeep/test/harness"
)

// bridgedCluster is a cluster of members, each a `pgkeep ha` process beside its
// own PostgreSQL 15, sharing an etcd that runs in the test process. Every
// member reaches etcd through its own bridge, so a test can cut any one off.
type bridgedCluster struct {
	etcd    *harness.Etcd
	members []*haNode
}

// haNode is one member: its PostgreSQL and its agent process, which
// reaches etcd through bridge.
type haNode struct {
	agent
	bridge *bridge // the agent's way to etcd
}

// haStatus is the part of an agent's GET /patroni answer the tests read.
type haStatus struct {
	State    string `json:"state"`
	Role     string `json:"role"`
	Timeline uint32 `json:"timeline"`
}

// startBridgedCluster starts n members: the first on a fresh PostgreSQL, the
// others on streaming standbys cloned from it (the agent does not create
// replicas itself yet), then their agents, the first one's first so that it
// takes the leader key. It returns once the first member answers /primary
// and the others /replica. The table probe (member, seq, at) exists.
func startBridgedCluster(t *testing.T, n int) *bridgedCluster {
	t.Helper()
	c := &bridgedCluster{etcd: harness.StartEtcd(t)}
	primary := harness.StartPostgres(t, harness.PGOptions{Conf: map[string]string{"wal_keep_size": "'256MB'"}})
	primary.Exec(t, "CREATE TABLE probe (member text, seq bigint, at timestamptz DEFAULT clock_timestamp())")
	servers := []*harness.Postgres{primary}
	for range n - 1 {
		servers = append(servers, harness.StartStandby(t, primary, nil))
	}
	for i, p := range servers {
		c.members = append(c.members, c.newMember(t, fmt.Sprintf("m%d", i+1), p))
	}
	c.members[0].start(t, t.Context(), nil)
	c.members[0].waitCheck(t, 30*time.Second, "/primary", http.StatusOK)
	for _, m := range c.members[1:] {
		m.start(t, t.Context(), nil)
	}
	for _, m := range c.members[1:] {
		m.waitCheck(t, 30*time.Second, "/replica", http.StatusOK)
	}
	return c
}

// newMember writes the configuration of a member's agent.
func (c *bridgedCluster) newMember(t *testing.T, name string, p *harness.Postgres) *haNode {
	t.Helper()
	m := &haNode{agent: newAgent(t, name), bridge: startBridge(t, strings.TrimPrefix(c.etcd.Endpoints[0], "http://"))}
	m.pg = p
	writeFile(t, m.config, agentconf.Agent{Cluster: "main", Name: name, PGData: p.DataDir, PGPort: p.Port,
		PGBin: filepath.Dir(harness.PGBin("pg_ctl")), Etcd: m.bridge.Addr, APIPort: m.port}.YAML())
	t.Cleanup(func() {
		m.stop(t, 60*time.Second)
		if t.Failed() {
			t.Logf("agent %s log (tail):\n%s\nPostgreSQL log (tail):\n%s\n%s", name, m.logTail(),
				p.LogTail(20), tailFile(filepath.Join(p.DataDir, "pg_ctl.log"), 20))
		}
	})
	return m
}

// status reads the agent's GET /patroni.
func (m *haNode) status() (haStatus, error) {
	var s haStatus
	resp, err := (&http.Client{Timeout: time.Second}).Get(m.api + "/patroni")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&s)
	return s, err
}

// rewinds counts the agent's decisions to rewind before following.
func (m *haNode) rewinds() int {
	b, _ := os.ReadFile(m.log)
	return strings.Count(string(b), "rewinding first")
}

// tailFile returns the last n lines of a file.
func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// primary returns the member that answers /primary, waiting up to timeout
// for exactly one to do so.
func (c *bridgedCluster) primary(t *testing.T, timeout time.Duration) *haNode {
	t.Helper()
	var found *haNode
	harness.Wait(t, timeout, "exactly one member to answer /primary", func() (bool, error) {
		var leaders []string
		found = nil
		for _, m := range c.members {
			if m.check("/primary") == http.StatusOK {
				leaders, found = append(leaders, m.name), m
			}
		}
		return len(leaders) == 1, fmt.Errorf("members answering /primary: %v", leaders)
	})
	return found
}

// others returns the members but m.
func (c *bridgedCluster) others(m *haNode) []*haNode {
	var o []*haNode
	for _, x := range c.members {
		if x != m {
			o = append(o, x)
		}
	}
	return o
}

// waitRejoined waits until m runs as a streaming replica of leader on the
// leader's timeline and has replayed the leader's current position, which
// shows that it follows the new history (after a pg_rewind where needed).
func waitRejoined(t *testing.T, timeout time.Duration, m, leader *haNode) {
	t.Helper()
	var target string
	harness.Wait(t, timeout, m.name+" to rejoin as a replica of "+leader.name, func() (bool, error) {
		if !m.running() {
			return false, fmt.Errorf("agent %s exited: %v", m.name, m.err)
		}
		ls, err := leader.status()
		if err != nil {
			return false, err
		}
		s, err := m.status()
		if err != nil {
			return false, err
		}
		ctx := t.Context()
		if s.Role != "replica" || s.State != "running" || s.Timeline != ls.Timeline || m.check("/replica") != http.StatusOK {
			recv, _ := m.pg.TryQueryString(ctx, "SELECT coalesce((SELECT status || ' ' || conninfo FROM pg_stat_wal_receiver), 'no WAL receiver') || '; primary_conninfo ' || current_setting('primary_conninfo') || '; replayed ' || pg_last_wal_replay_lsn()::text || '; received_tli ' || coalesce((SELECT received_tli FROM pg_stat_wal_receiver)::text, '-') || '; checkpoint tli ' || (SELECT timeline_id FROM pg_control_checkpoint())::text")
			return false, fmt.Errorf("%s: %+v, leader %s on timeline %d; %s", m.name, s, leader.name, ls.Timeline, recv)
		}
		sender, err := leader.pg.TryQueryString(ctx, "SELECT count(*) FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'", m.name)
		if err != nil || sender != "1" {
			recv, _ := m.pg.TryQueryString(ctx, "SELECT coalesce((SELECT status || ' ' || conninfo FROM pg_stat_wal_receiver), 'no WAL receiver') || '; primary_conninfo ' || current_setting('primary_conninfo')")
			senders, _ := leader.pg.TryQueryString(ctx, "SELECT coalesce(string_agg(application_name || ' ' || state, ', '), 'none') FROM pg_stat_replication")
			return false, fmt.Errorf("%s does not stream from %s (%v): %s; the leader's senders: %s", m.name, leader.name, err, recv, senders)
		}
		if target == "" { // the leader's position once m streams: m must replay past it
			if target, err = leader.pg.TryQueryString(ctx, "SELECT pg_current_wal_lsn()::text"); err != nil {
				return false, err
			}
		}
		replayed, err := m.pg.TryQueryString(ctx, "SELECT pg_last_wal_replay_lsn()::text || ' ' || (pg_last_wal_replay_lsn() >= $1::pg_lsn)::text", target)
		return strings.HasSuffix(replayed, " true"), fmt.Errorf("%s replayed %s, the leader was at %s (%v)", m.name, replayed, target, err)
	})
}
