package ha

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/test/harness"
)

// lifeMember is an agent that creates its own data directory.
type lifeMember struct {
	name string
	pg   *harness.Postgres
	o    Options
	api  string
	log  *logBook
	running
}

// logBook keeps an agent's log lines, and sends them to t.Log.
type logBook struct {
	t  *testing.T
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBook) Write(b []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(b)
	l.mu.Unlock()
	return testWriter{l.t}.Write(b)
}

func (l *logBook) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.b.String(), s)
}

// programs counts the PostgreSQL programs the agents ran, by name.
type programs struct {
	mu sync.Mutex
	n  map[string]int
}

func (p *programs) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	p.mu.Lock()
	p.n[filepath.Base(name)]++
	p.mu.Unlock()
	return harness.PGCommand(ctx, name, args...)
}

func (p *programs) count(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[name]
}

// newLifeMember prepares a member with an empty data directory; start runs
// its agent.
func newLifeMember(t *testing.T, e *harness.Etcd, name string, progs *programs) *lifeMember {
	t.Helper()
	dir := harness.Dir(t)
	port := harness.FreePort(t)
	m := &lifeMember{name: name, log: &logBook{t: t},
		pg: harness.Managed(t, filepath.Join(dir, "data"), port, dir, filepath.Join(dir, "postgres.log"))}
	listen := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	m.api = "http://" + listen
	m.o = Options{
		Name: name, Cluster: "life", Etcd: e.NewClient(t),
		PGData: m.pg.DataDir, PGBin: filepath.Dir(harness.PGBin("pg_ctl")), PGLogFile: m.pg.LogFile,
		Conn:    pg.ConnOptions{Host: "127.0.0.1", Port: port, User: "postgres", Database: "postgres", Timeout: time.Second},
		ConnURL: fmt.Sprintf("postgres://127.0.0.1:%d/postgres", port), APIListen: listen,
		Parameters:   map[string]string{"unix_socket_directories": dir, "fsync": "off", "shared_buffers": "16MB"},
		StallTimeout: 10 * time.Second, // above wal_retrieve_retry_interval (5 s)
		Command:      progs.command,
		Logger:       slog.New(slog.NewTextHandler(m.log, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	return m
}

// start runs a new agent for the member until stop or the test's end.
func (m *lifeMember) start(t *testing.T) {
	t.Helper()
	agent, err := New(m.o)
	if err != nil {
		t.Fatal(err)
	}
	m.run(agent)
	t.Cleanup(func() { m.stop(t) })
}

// stop stops the agent (a primary's PostgreSQL with it).
func (m *lifeMember) stop(t *testing.T) { m.running.stop(t, m.name) }

func (m *lifeMember) check(path string) int {
	resp, err := (&http.Client{Timeout: time.Second}).Get(m.api + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// reinit posts /reinitialize and returns the code and the JSON answer.
func (m *lifeMember) reinit(t *testing.T, body string) (int, map[string]any) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Post(m.api+"/reinitialize", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s/reinitialize: %v", m.name, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST %s/reinitialize: answer: %v", m.name, err)
	}
	return resp.StatusCode, out
}

// roles waits until exactly one member answers /primary and the others
// /replica with a streaming WAL receiver, and returns the primary.
func roles(t *testing.T, timeout time.Duration, members ...*lifeMember) (primary *lifeMember, replicas []*lifeMember) {
	t.Helper()
	harness.Wait(t, timeout, "one primary and streaming replicas", func() (bool, error) {
		primary, replicas = nil, nil
		for _, m := range members {
			switch {
			case m.check("/primary") == 200:
				if primary != nil {
					return false, fmt.Errorf("two primaries: %s and %s", primary.name, m.name)
				}
				primary = m
			case m.check("/replica") == 200:
				v, err := m.pg.TryQueryString(t.Context(), "SELECT coalesce((SELECT status FROM pg_stat_wal_receiver), 'none')")
				if err != nil || v != "streaming" {
					return false, fmt.Errorf("%s: wal receiver %q %v", m.name, v, err)
				}
				replicas = append(replicas, m)
			default:
				return false, fmt.Errorf("%s is neither primary nor replica yet", m.name)
			}
		}
		return primary != nil, nil
	})
	return primary, replicas
}

// waitRows waits until the member's table holds want rows.
func waitRows(t *testing.T, m *lifeMember, table string, want int) {
	t.Helper()
	harness.Wait(t, 60*time.Second, fmt.Sprintf("%d rows of %s on %s", want, table, m.name), func() (bool, error) {
		v, err := m.pg.TryQueryString(t.Context(), "SELECT count(*) FROM "+table)
		return v == fmt.Sprint(want), err
	})
}

// Three members start on empty data directories at once: exactly one runs
// initdb and leads; the others become streaming replicas of it. A replica
// is re-created on request (POST /reinitialize), the leader refuses it.
// Then an old primary that wrote past the failover and whose pg_rewind
// cannot work (the WAL at the fork is gone) is re-created from scratch and
// streams again, its stray rows gone.
func TestLifecycleBootstrapReinitRecloneAfterRewindFailure(t *testing.T) {
	e := harness.StartEtcd(t)
	progs := &programs{n: map[string]int{}}
	members := []*lifeMember{newLifeMember(t, e, "a", progs), newLifeMember(t, e, "b", progs), newLifeMember(t, e, "c", progs)}
	start := time.Now()
	for _, m := range members {
		m.start(t)
	}
	primary, replicas := roles(t, 3*time.Minute, members...)
	t.Logf("bootstrap: %s primary, %d streaming replicas after %s; initdb ran %d times, pg_basebackup %d",
		primary.name, len(replicas), time.Since(start).Round(time.Millisecond), progs.count("initdb"), progs.count("pg_basebackup"))
	if n := progs.count("initdb"); n != 1 {
		t.Fatalf("initdb ran %d times, want exactly once", n)
	}
	if len(replicas) != 2 {
		t.Fatalf("%d replicas", len(replicas))
	}
	sysid := primary.pg.QueryString(t, "SELECT system_identifier::text FROM pg_control_system()")
	resp, err := e.Client.Get(t.Context(), "/service/life/initialize")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != sysid {
		t.Fatalf("initialize key %v (%v), want the system identifier %s", resp, err, sysid)
	}
	for _, r := range replicas {
		if got := r.pg.QueryString(t, "SELECT system_identifier::text FROM pg_control_system()"); got != sysid {
			t.Fatalf("%s has system %s, the primary %s", r.name, got, sysid)
		}
	}
	if got := primary.pg.QueryString(t, "SELECT string_agg(application_name || ':' || state, ',' ORDER BY application_name) FROM pg_stat_replication"); got != replicas[0].name+":streaming,"+replicas[1].name+":streaming" {
		t.Fatalf("pg_stat_replication on the primary: %s", got)
	}
	if got := primary.pg.QueryString(t, "SHOW data_checksums"); got != "on" {
		t.Fatalf("data_checksums %s", got)
	}
	primary.pg.Exec(t, "CREATE TABLE rows AS SELECT generate_series(1, 1000) AS id")
	for _, r := range replicas {
		waitRows(t, r, "rows", 1000)
	}

	// POST /reinitialize: refused by the leader, done on a replica.
	if code, out := primary.reinit(t, `{"force":true}`); code != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(out["error"]), "leads the cluster") {
		t.Fatalf("reinitialize the leader: %d %v, want 503 and why", code, out)
	}
	r := replicas[0]
	pid := r.pg.QueryString(t, "SELECT pg_postmaster_start_time()::text")
	if code, out := r.reinit(t, ""); code != http.StatusOK || out["status"] != "reinitialized" {
		t.Fatalf("reinitialize %s: %d %v", r.name, code, out)
	}
	if again := r.pg.QueryString(t, "SELECT pg_postmaster_start_time()::text"); again == pid {
		t.Fatal("the reinitialized replica's server was not restarted")
	}
	primary.pg.Exec(t, "INSERT INTO rows SELECT generate_series(1001, 2000)")
	waitRows(t, r, "rows", 2000)
	roles(t, time.Minute, members...)

	// The primary's agent stops (and its server with it): a replica takes
	// over. The old primary is then started by hand and writes past the
	// fork, and the WAL segment of the fork is removed: pg_rewind cannot
	// work, and the agent re-creates the member.
	old := primary
	if h, err := e.Client.Get(t.Context(), "/service/life/history"); err != nil || len(h.Kvs) != 0 {
		t.Fatalf("history key before the first failover: %v %v", h, err)
	}
	old.stop(t)
	rest := []*lifeMember{replicas[0], replicas[1]}
	next, _ := roles(t, time.Minute, rest...)
	historyBeforePrimary(t, e, next.name)
	if n := progs.count("pg_rewind"); n != 0 {
		t.Fatalf("pg_rewind ran %d times after a clean handover, where every replica is at or behind the switch point", n)
	}
	forkSeg := forkSegment(t, next)
	startByHand(t, old)
	old.pg.Exec(t, "CREATE TABLE stray AS SELECT generate_series(1, 10) AS id; SELECT pg_switch_wal(); CHECKPOINT")
	old.pg.Exec(t, "INSERT INTO stray VALUES (11); SELECT pg_switch_wal()")
	old.pg.Stop(t)
	if err := removeFile(filepath.Join(old.pg.DataDir, "pg_wal", forkSeg)); err != nil {
		t.Fatal(err)
	}
	next.pg.Exec(t, "INSERT INTO rows SELECT generate_series(2001, 3000)")
	rejoin := time.Now()
	old.start(t)
	primary, _ = roles(t, 2*time.Minute, members...)
	t.Logf("the old primary streams again %s after its agent started", time.Since(rejoin).Round(time.Millisecond))
	if primary != next {
		t.Fatalf("primary %s, want %s", primary.name, next.name)
	}
	if !old.log.has("pg_rewind failed") || !old.log.has("replica created") {
		t.Fatal("the old primary's agent did not log a failed pg_rewind and a re-created replica")
	}
	waitRows(t, old, "rows", 3000)
	if v := old.pg.QueryString(t, "SELECT count(*) FROM pg_class WHERE relname = 'stray'"); v != "0" {
		t.Fatal("the re-created replica still holds the rows written past the fork")
	}

	// A replica away while the leader recycled the WAL it needs cannot
	// follow: it is re-created.
	var away *lifeMember
	for _, m := range members {
		if m != primary && m != old {
			away = m
		}
	}
	away.stop(t)
	away.pg.Stop(t)
	// Little WAL kept from now on, even for a slot: the replica away loses
	// the WAL it needs.
	for _, sql := range []string{"ALTER SYSTEM SET wal_keep_size = 0", "ALTER SYSTEM SET max_slot_wal_keep_size = '32MB'",
		"ALTER SYSTEM SET max_wal_size = '32MB'", "ALTER SYSTEM SET min_wal_size = '32MB'", "SELECT pg_reload_conf()"} {
		primary.pg.Exec(t, sql)
	}
	for i := 0; i < 4; i++ {
		// The streaming replica gets each segment before the checkpoint
		// that recycles it: only the one away misses WAL.
		primary.pg.Exec(t, "INSERT INTO rows SELECT generate_series(1, 20000)")
		at := primary.pg.QueryString(t, "SELECT pg_switch_wal()::text")
		harness.Wait(t, 30*time.Second, "the streaming replica to flush "+at, func() (bool, error) {
			v, err := primary.pg.TryQueryString(t.Context(), "SELECT count(*) FILTER (WHERE flush_lsn >= $1::pg_lsn) FROM pg_stat_replication", at)
			return v == "1", err
		})
		primary.pg.Exec(t, "CHECKPOINT")
	}
	restart := time.Now()
	away.start(t)
	harness.Wait(t, 2*time.Minute, "the replica that cannot follow to be re-created", func() (bool, error) {
		return away.log.has("neither received nor replayed"), nil
	})
	roles(t, 2*time.Minute, members...)
	t.Logf("the replica that could not follow streams again %s after its agent started", time.Since(restart).Round(time.Millisecond))
	for _, m := range members {
		if m != away && m.log.has("neither received nor replayed") {
			t.Errorf("%s was taken for a replica that cannot follow", m.name)
		}
	}
	want := primary.pg.QueryString(t, "SELECT count(*) FROM rows")
	waitRows(t, away, "rows", atoi(t, want))

	// A data directory of another system is refused.
	other := harness.StartPostgres(t, harness.PGOptions{})
	o := newLifeMember(t, e, "d", progs).o
	o.PGData = other.DataDir
	agent, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "refusing to run it") {
		t.Fatalf("an agent on another system's data directory: %v, want a refusal", err)
	}
}

// forkSegment is the name, on timeline 1, of the WAL segment holding the
// point where the new primary's timeline 2 forked off.
func forkSegment(t *testing.T, m *lifeMember) string {
	t.Helper()
	if tl := m.pg.QueryString(t, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"); tl != "00000002" {
		t.Fatalf("%s on timeline %s, want 2", m.name, tl)
	}
	h := m.pg.QueryString(t, "SELECT pg_read_file('pg_wal/00000002.history')")
	f := strings.Fields(h)
	if len(f) < 2 {
		t.Fatalf("history file %q", h)
	}
	lsn, err := pg.ParseLSN(f[1])
	if err != nil {
		t.Fatal(err)
	}
	seg := uint64(lsn) / (16 << 20)
	return fmt.Sprintf("%08X%08X%08X", 1, seg/256, seg%256)
}

// startByHand starts a member's server with pg_ctl, outside its agent.
func startByHand(t *testing.T, m *lifeMember) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := harness.PGCommand(ctx, harness.PGBin("pg_ctl"), "-D", m.pg.DataDir, "-l", m.pg.LogFile, "-w", "start").CombinedOutput()
	if err != nil {
		t.Fatalf("pg_ctl start %s: %v\n%s", m.name, err, out)
	}
	if v := m.pg.QueryString(t, "SELECT pg_is_in_recovery()::text"); v != "false" {
		t.Fatalf("%s started by hand is in recovery", m.name)
	}
}

// removeFile removes a file; one already gone is fine.
func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

func atoi(t *testing.T, s string) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// historyBeforePrimary checks that the new leader wrote the history key
// before its member key showed it as primary: a replica that sees the
// leader as primary on a newer timeline without its switch point decides
// to rewind.
func historyBeforePrimary(t *testing.T, e *harness.Etcd, leader string) {
	t.Helper()
	var created int64
	harness.Wait(t, 30*time.Second, "the history key", func() (bool, error) {
		h, err := e.Client.Get(t.Context(), "/service/life/history")
		if err != nil || len(h.Kvs) != 1 {
			return false, err
		}
		created = h.Kvs[0].CreateRevision
		return true, nil
	})
	m, err := e.Client.Get(t.Context(), "/service/life/members/"+leader, clientv3.WithRev(created-1))
	if err != nil {
		t.Fatal(err)
	}
	var data dcs.MemberData
	if len(m.Kvs) == 1 {
		if err := json.Unmarshal(m.Kvs[0].Value, &data); err != nil {
			t.Fatal(err)
		}
	}
	if data.IsPrimary() {
		t.Fatalf("%s's member key showed it as primary on timeline %d (revision %d) before the history key was written (revision %d)",
			leader, data.Timeline, m.Kvs[0].ModRevision, created)
	}
}
