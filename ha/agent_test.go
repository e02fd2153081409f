package ha

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/test/harness"
)

// member is an agent under test beside its PostgreSQL.
type member struct {
	name   string
	pg     *harness.Postgres
	etcd   *clientv3.Client
	agent  *Agent
	api    string // http://127.0.0.1:PORT
	listen string
	opts   func(*Options)
	running
}

// running is an agent's Run in a goroutine of the test.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

// run starts a.Run.
func (r *running) run(a *Agent) {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func(done chan error) { done <- a.Run(ctx) }(r.done)
}

// stop stops the agent of member name (a no-op when it is stopped) and
// checks that Run returned nil.
func (r *running) stop(t *testing.T, name string) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("agent %s: %v", name, err)
		}
	case <-time.After(90 * time.Second):
		t.Errorf("agent %s did not stop", name)
	}
}

// startMember starts the agent of name for the server p, with the default
// timings, and stops it at cleanup.
func startMember(t *testing.T, e *harness.Etcd, name string, p *harness.Postgres) *member {
	return startMemberWith(t, e, name, p, nil)
}

// startMemberWith is startMember with options changed by opts.
func startMemberWith(t *testing.T, e *harness.Etcd, name string, p *harness.Postgres, opts func(*Options)) *member {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	m := &member{name: name, pg: p, etcd: e.NewClient(t), api: "http://" + listen, listen: listen, opts: opts}
	m.start(t)
	t.Cleanup(func() { m.stop(t) })
	return m
}

// start runs a new agent for the member.
func (m *member) start(t *testing.T) {
	t.Helper()
	p := m.pg
	o := Options{
		Name: m.name, Cluster: "main", Etcd: m.etcd,
		PGData: p.DataDir, PGBin: filepath.Dir(harness.PGBin("pg_ctl")), PGLogFile: p.LogFile,
		Conn:    pg.ConnOptions{Host: p.Host, Port: p.Port, User: "postgres", Database: "postgres", Timeout: time.Second},
		ConnURL: fmt.Sprintf("postgres://%s:%d/postgres", p.Host, p.Port), APIListen: m.listen,
		Command: harness.PGCommand,
		Logger:  slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if m.opts != nil {
		m.opts(&o)
	}
	var err error
	if m.agent, err = New(o); err != nil {
		t.Fatal(err)
	}
	m.run(m.agent)
}

// stop stops the member's agent (a no-op when it is stopped).
func (m *member) stop(t *testing.T) { m.running.stop(t, m.name) }

// testWriter sends log lines to t.Log while the test runs.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	defer func() { _ = recover() }() // a log line after the test ended
	w.t.Log(string(b[:len(b)-1]))
	return len(b), nil
}

// check returns the status code of a REST check, 0 when it does not answer.
func (m *member) check(path string) int {
	req, _ := http.NewRequest(http.MethodOptions, m.api+path, nil) // HAProxy's default
	resp, err := (&http.Client{Timeout: time.Second}).Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitChecks waits until every check of every member answers as wanted.
func waitChecks(t *testing.T, timeout time.Duration, want map[*member]map[string]int) {
	t.Helper()
	harness.Wait(t, timeout, "the REST checks to settle", func() (bool, error) {
		for m, checks := range want {
			for path, code := range checks {
				if got := m.check(path); got != code {
					return false, fmt.Errorf("%s %s: %d, want %d", m.name, path, got, code)
				}
			}
		}
		return true, nil
	})
}

func TestAgentsLeadFollowAndFence(t *testing.T) {
	e := harness.StartEtcd(t)
	primary := harness.StartPostgres(t, harness.PGOptions{})
	standby := harness.StartStandby(t, primary, nil)
	primary.Exec(t, "CREATE TABLE probe (member text, at timestamptz DEFAULT now())")

	// The primary's agent first: it takes the free key. Then the standby's
	// follows it.
	a := startMember(t, e, "a", primary)
	waitChecks(t, 30*time.Second, map[*member]map[string]int{a: {"/primary": 200, "/leader": 200}})
	b := startMember(t, e, "b", standby)
	waitChecks(t, 30*time.Second, map[*member]map[string]int{
		a: {"/primary": 200, "/master": 200, "/read-write": 200, "/leader": 200, "/replica": 503, "/read-only": 200, "/health": 200, "/patroni": 200},
		b: {"/primary": 503, "/leader": 503, "/replica": 200, "/replica?lag=16MB": 200, "/read-only": 200, "/health": 200},
	})
	c, err := a.agent.dcs.Cluster(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	am, _ := c.Member("a")
	bm, _ := c.Member("b")
	if c.LeaderName() != "a" || !am.Data.IsPrimary() || bm.Data.Role != dcs.RoleReplica || !bm.Data.IsRunning() {
		t.Fatalf("cluster: leader %q, a %+v, b %+v", c.LeaderName(), am.Data, bm.Data)
	}

	// Cut a off from etcd while a prober writes to both every 10 ms: a must
	// stop accepting writes before b accepts any.
	probe := startProbe(t, a, b)
	cut := time.Now()
	if err := a.etcd.Close(); err != nil {
		t.Fatal(err)
	}
	waitChecks(t, 30*time.Second, map[*member]map[string]int{a: {"/primary": 503}, b: {"/primary": 200, "/leader": 200}})
	harness.Wait(t, 10*time.Second, "a write on b", func() (bool, error) { return probe.first("b") != (time.Time{}), nil })
	probe.stop()
	lastA, firstB := probe.last("a"), probe.first("b")
	t.Logf("cut at 0; a's last write at %s; b's first write at %s (ttl %s, safety margin %s)",
		lastA.Sub(cut).Round(time.Millisecond), firstB.Sub(cut).Round(time.Millisecond), a.agent.o.TTL, a.agent.o.SafetyMargin)
	if !lastA.Before(firstB) {
		t.Fatalf("two primaries: a accepted a write at %s, after b's first at %s", lastA.Sub(cut), firstB.Sub(cut))
	}
	if lastA.Sub(cut) > DefaultTTL {
		t.Errorf("a accepted writes %s after the cut, beyond the ttl %s", lastA.Sub(cut), DefaultTTL)
	}
	c, err = b.agent.dcs.Cluster(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if c.LeaderName() != "b" || c.History == nil || c.History.LastTimeline() != 2 {
		t.Fatalf("after the failover: leader %q, history %+v", c.LeaderName(), c.History)
	}
}

// prober writes a row to every member every 10 ms and records when each
// write was acknowledged.
type prober struct {
	mu     sync.Mutex
	acked  map[string][]time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startProbe(t *testing.T, members ...*member) *prober {
	ctx, cancel := context.WithCancel(context.Background())
	p := &prober{acked: map[string][]time.Time{}, cancel: cancel}
	for _, m := range members {
		p.wg.Go(func() {
			for ctx.Err() == nil {
				cctx, ccancel := context.WithTimeout(ctx, 200*time.Millisecond)
				c, err := m.pg.Connect(cctx)
				if err == nil {
					_, err = c.Exec(cctx, "INSERT INTO probe (member) VALUES ($1)", m.name)
					c.Close(context.Background())
				}
				ccancel()
				if err == nil {
					p.mu.Lock()
					p.acked[m.name] = append(p.acked[m.name], time.Now())
					p.mu.Unlock()
				}
				select {
				case <-ctx.Done():
				case <-time.After(10 * time.Millisecond):
				}
			}
		})
	}
	t.Cleanup(p.stop)
	return p
}

func (p *prober) stop() { p.cancel(); p.wg.Wait() }

func (p *prober) first(name string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.acked[name]) == 0 {
		return time.Time{}
	}
	return p.acked[name][0]
}

func (p *prober) last(name string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.acked[name]) == 0 {
		return time.Time{}
	}
	return p.acked[name][len(p.acked[name])-1]
}
