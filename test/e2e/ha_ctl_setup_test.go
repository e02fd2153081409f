package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgkeep/pgkeep/test/harness"
)

// haToken is the bearer token of the test clusters' REST APIs.
const haToken = "s3cret-ha-token"

// ctlMember is a `pgkeep ha` process beside its PostgreSQL.
type ctlMember struct{ agent }

// haCluster is three members and the configuration ctl runs with.
type haCluster struct {
	etcd    *harness.Etcd
	members map[string]*ctlMember
	config  string // ctl's: etcd, cluster, token
	dir     string
}

// startHACluster starts a primary and two streaming standbys, and a
// `pgkeep ha` agent for each (a on the primary first, so it leads).
func startHACluster(t *testing.T) *haCluster {
	t.Helper()
	hc := &haCluster{etcd: harness.StartEtcd(t), members: map[string]*ctlMember{}, dir: harness.Dir(t)}
	tokenFile := filepath.Join(hc.dir, "token")
	writeFile(t, tokenFile, haToken+"\n")
	base := haBase(hc)
	hc.config = filepath.Join(hc.dir, "ctl.yaml")
	writeFile(t, hc.config, base+"ha:\n  token-file: "+tokenFile+"\n")
	primary := harness.StartPostgres(t, harness.PGOptions{Conf: map[string]string{"wal_keep_size": "'256MB'"}})
	pgs := map[string]*harness.Postgres{"a": primary, "b": harness.StartStandby(t, primary, nil), "c": harness.StartStandby(t, primary, nil)}
	for _, name := range []string{"a", "b", "c"} {
		m := startCtlMember(t, hc, name, pgs[name], base+"ha:\n  token-file: "+tokenFile+"\n")
		hc.members[name] = m
		if name == "a" {
			hc.waitLeader(t, "a")
		}
	}
	// Converged: each replica streams through its own slot. A replica first
	// streams as the harness started it; once its agent follows the leader
	// it reconnects with primary_slot_name, and if that comes before the
	// leader has created the slot, its walreceiver retries only after
	// wal_retrieve_retry_interval (5 s), lagging meanwhile.
	harness.Wait(t, 60*time.Second, "one leader and two replicas streaming through their slots", func() (bool, error) {
		info := hc.list(t)
		slots, err := primary.TryQueryString(t.Context(),
			"SELECT count(*) FROM pg_replication_slots WHERE slot_name IN ('b', 'c') AND active")
		return info.streaming() == 2 && info.Leader == "a" && slots == "2", errors.Join(err, fmt.Errorf("%+v, active slots %s", info, slots))
	})
	return hc
}

// startCtlMember writes the member's configuration and starts its agent.
func startCtlMember(t *testing.T, hc *haCluster, name string, p *harness.Postgres, base string) *ctlMember {
	t.Helper()
	m := &ctlMember{newAgent(t, name)}
	m.pg = p
	yaml := strings.Replace(base, "ha:\n", fmt.Sprintf("ha:\n  name: %s\n  listen: 127.0.0.1:%d\n", name, m.port), 1) +
		fmt.Sprintf("pg:\n  data: %s\n  host: %s\n  port: %d\n  bin: %s\n", p.DataDir, p.Host, p.Port, filepath.Dir(harness.PGBin("pg_ctl")))
	writeFile(t, m.config, yaml)
	m.start(t, context.Background(), nil)
	t.Cleanup(func() { m.stop(t, 90*time.Second) })
	return m
}

// ctl runs pgkeep ctl with the cluster's configuration.
func (hc *haCluster) ctl(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return pgkeep(t, env, append([]string{"--config", hc.config, "ctl"}, args...)...)
}

// clusterJSON is what ctl list --output json prints.
type clusterJSON struct {
	Leader  string `json:"leader"`
	Pause   bool   `json:"pause"`
	Members []struct {
		Name     string  `json:"name"`
		Role     string  `json:"role"`
		State    string  `json:"state"`
		Timeline uint32  `json:"timeline"`
		Lag      *uint64 `json:"lag"`
	} `json:"members"`
}

func (c clusterJSON) streaming() int {
	n := 0
	for _, m := range c.Members {
		if m.Role == "replica" && m.State == "streaming" {
			n++
		}
	}
	return n
}

func (hc *haCluster) list(t *testing.T) clusterJSON {
	t.Helper()
	r := hc.ctl(t, nil, "--output", "json", "list")
	var c clusterJSON
	if r.code != 0 {
		t.Fatalf("ctl list: %s", r)
	}
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		t.Fatalf("ctl list --output json: %v: %s", err, r.stdout)
	}
	return c
}

// waitLeader waits until name holds the leader key and accepts writes.
func (hc *haCluster) waitLeader(t *testing.T, name string) {
	t.Helper()
	harness.Wait(t, 60*time.Second, name+" to lead", func() (bool, error) {
		resp, err := hc.apiClient().Get(hc.membersAPI(name) + "/primary")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == 200, fmt.Errorf("/primary: %d", resp.StatusCode)
	})
}

func (hc *haCluster) membersAPI(name string) string { return hc.members[name].api }

// primaries returns the members whose PostgreSQL accepts writes.
func (hc *haCluster) primaries(t *testing.T) []string {
	var out []string
	for name, m := range hc.members {
		v, err := m.pg.TryQueryString(t.Context(), "SELECT CASE WHEN pg_is_in_recovery() THEN 'replica' ELSE 'primary' END")
		if err == nil && v == "primary" {
			out = append(out, name)
		}
	}
	return out
}

// ackWriter inserts a row every few milliseconds into whichever member
// accepts writes, and records every acknowledged id and when.
type ackWriter struct {
	cancel context.CancelFunc
	done   chan struct{}
	acked  []int64
	at     []time.Time
}

func startWriter(t *testing.T, hc *haCluster) *ackWriter {
	ctx, cancel := context.WithCancel(context.Background())
	w := &ackWriter{cancel: cancel, done: make(chan struct{})}
	var conns []string
	for _, m := range hc.members {
		conns = append(conns, m.pg.ConnString())
	}
	go func() {
		defer close(w.done)
		var conn *pgx.Conn
		id := int64(0)
		for ctx.Err() == nil {
			if conn == nil {
				conn = connectWritable(ctx, conns)
				if conn == nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
			}
			id++
			cctx, ccancel := context.WithTimeout(ctx, time.Second)
			_, err := conn.Exec(cctx, "INSERT INTO acked (id) VALUES ($1)", id)
			ccancel()
			if err != nil {
				conn.Close(context.Background())
				conn = nil
				continue
			}
			w.acked = append(w.acked, id)
			w.at = append(w.at, time.Now())
			time.Sleep(2 * time.Millisecond)
		}
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	return w
}

// connectWritable connects to the first server that accepts writes.
func connectWritable(ctx context.Context, conns []string) *pgx.Conn {
	for _, cs := range conns {
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		c, err := pgx.Connect(cctx, cs+"&target_session_attrs=read-write")
		cancel()
		if err == nil {
			return c
		}
	}
	return nil
}

// stop stops the ackWriter and returns the longest gap between two
// acknowledged writes after from.
func (w *ackWriter) stop(from time.Time) time.Duration {
	w.cancel()
	<-w.done
	var gap time.Duration
	for i := 1; i < len(w.at); i++ {
		if w.at[i].After(from) {
			gap = max(gap, w.at[i].Sub(w.at[i-1]))
		}
	}
	return gap
}

// httpClient calls the members' REST APIs.
var httpClient = http.Client{Timeout: 2 * time.Second}

// haBase is the start of every configuration of hc: the cluster and etcd
// (no repository: replicas are cloned with pg_basebackup).
func haBase(hc *haCluster) string {
	return "cluster: main\nlog-level: info\n" + etcdYAML(hc.etcd)
}

// apiClient reaches the members' REST APIs (over HTTPS when their api_url
// says so, trusting the test CA in the cluster's directory).
func (hc *haCluster) apiClient() *http.Client {
	pem, err := os.ReadFile(filepath.Join(hc.dir, "ca.pem"))
	if err != nil {
		return &httpClient
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}
