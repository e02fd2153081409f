package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// Three `pgkeep ha` agents and `pgkeep ctl`: list, refused switchovers
// that change nothing, a switchover under a writer that loses no
// acknowledged commit, auth of mutating calls, and maintenance mode.
func TestHACtl(t *testing.T) {
	hc := startHACluster(t)
	a := hc.members["a"]
	a.pg.Exec(t, "CREATE TABLE acked (id bigint PRIMARY KEY)")

	t.Run("list", func(t *testing.T) {
		var r result
		harness.Wait(t, 30*time.Second, "ctl list to show a leader and two streaming replicas", func() (bool, error) {
			r = hc.ctl(t, nil, "list")
			return r.code == 0 && strings.Contains(r.stdout, "Member") && strings.Count(r.stdout, "streaming") == 2 &&
				strings.Count(r.stdout, "leader") == 1 && !strings.Contains(r.stdout, "Maintenance"), fmt.Errorf("%s", r)
		})
		t.Logf("ctl list:\n%s", r.stdout)
		dry := hc.ctl(t, nil, "failover", "--dry-run")
		t.Logf("ctl failover --dry-run:\n%s", dry.stdout)
		if dry.code != 0 || !strings.Contains(dry.stdout, "Winner: ") || strings.Contains(dry.stdout, "Winner: a") ||
			!strings.Contains(dry.stdout, "leaving in a switchover") {
			t.Errorf("dry run: %s", dry)
		}
	})

	proxy := startCtlHAProxy(t, hc) // for the whole test
	t.Run("haproxy routes by the REST checks", func(t *testing.T) {
		proxy.waitRoutes(t, hc, "a")
	})

	t.Run("refused switchovers change nothing", func(t *testing.T) {
		for _, c := range []struct{ to, want string }{
			{"zed", "zed is not a member of the cluster"},
			{"a", "a is the leader already"},
		} {
			r := hc.ctl(t, nil, "switchover", "--to", c.to, "--force")
			if r.code == 0 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("switchover to %s: %s; want one line with %q", c.to, r, c.want)
			}
		}
		// c lags: its WAL receiver is frozen while the primary writes a
		// new segment.
		cm := hc.members["c"]
		var p int
		harness.Wait(t, 30*time.Second, "c's WAL receiver to stream", func() (bool, error) {
			pid, err := cm.pg.TryQueryString(t.Context(), "SELECT pid FROM pg_stat_wal_receiver WHERE status = 'streaming'")
			_, serr := fmt.Sscan(pid, &p)
			return err == nil && serr == nil && p > 0, err
		})
		if err := syscall.Kill(p, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer syscall.Kill(p, syscall.SIGCONT)
		a.pg.Exec(t, "INSERT INTO acked SELECT -g FROM generate_series(1, 20000) g")
		a.pg.Exec(t, "SELECT pg_switch_wal()")
		a.pg.Exec(t, "INSERT INTO acked VALUES (-999999)")
		var r result
		harness.Wait(t, 20*time.Second, "the switchover to the lagging c to be refused", func() (bool, error) {
			r = hc.ctl(t, nil, "switchover", "--to", "c", "--force")
			return r.code != 0 && strings.Contains(r.stderr, "c cannot take over: lags"), fmt.Errorf("%s", r)
		})
		t.Logf("refused: %s", strings.TrimSpace(r.stderr))
		syscall.Kill(p, syscall.SIGCONT)
		if info := hc.list(t); info.Leader != "a" || !slices.Equal(hc.primaries(t), []string{"a"}) {
			t.Fatalf("after refusals: leader %q, primaries %v", info.Leader, hc.primaries(t))
		}
		if resp, err := hc.etcd.Client.Get(t.Context(), "/service/main/failover"); err != nil || resp.Count != 0 {
			t.Fatalf("after refusals: failover key %v, %v", resp, err)
		}
	})

	t.Run("mutating calls need the token", func(t *testing.T) {
		for _, c := range []struct {
			auth string
			want int
		}{{"", 401}, {"Bearer wrong", 403}} {
			req, _ := http.NewRequest("POST", a.api+"/switchover", strings.NewReader(`{"leader":"a","candidate":"b"}`))
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("POST /switchover with %q: %d, want %d", c.auth, resp.StatusCode, c.want)
			}
		}
		r := hc.ctl(t, []string{"PGKEEP_HA_TOKEN=wrong"}, "switchover", "--to", "b", "--force")
		if r.code == 0 || !strings.Contains(r.stderr, "wrong token") {
			t.Errorf("ctl with a wrong token: %s", r)
		}
		if info := hc.list(t); info.Leader != "a" {
			t.Fatalf("leader %q after refused calls", info.Leader)
		}
	})

	t.Run("switchover to b loses no acknowledged commit", func(t *testing.T) {
		harness.Wait(t, 30*time.Second, "c to catch up", func() (bool, error) { return hc.list(t).streaming() == 2, nil })
		w := startWriter(t, hc)
		harness.Wait(t, 10*time.Second, "the writer to write", func() (bool, error) { return len(w.at) > 20, nil })
		start := time.Now()
		var r result
		for { // a WAL receiver that restarts just then makes the leader refuse: ask again
			r = hc.ctl(t, nil, "switchover", "--to", "b", "--force")
			if r.code == 0 || !strings.Contains(r.stderr, "does not stream") || time.Since(start) > 30*time.Second {
				break
			}
			t.Logf("refused for now: %s", strings.TrimSpace(r.stderr))
			time.Sleep(500 * time.Millisecond)
		}
		took := time.Since(start)
		time.Sleep(500 * time.Millisecond)
		gap := w.stop(start)
		t.Logf("ctl switchover: %s (ctl took %s); longest write unavailability %s; %d commits acknowledged",
			strings.TrimSpace(r.stdout+r.stderr), took.Round(time.Millisecond), gap.Round(time.Millisecond), len(w.acked))
		if r.code != 0 {
			t.Fatalf("switchover: %s\n--- a:\n%s\n--- b:\n%s", r, a.logTail(), hc.members["b"].logTail())
		}
		hc.waitLeader(t, "b")
		proxy.waitRoutes(t, hc, "b")
		b := hc.members["b"]
		n := b.pg.QueryString(t, fmt.Sprintf("SELECT count(*) FROM acked WHERE id BETWEEN 1 AND %d", w.acked[len(w.acked)-1]))
		if n != fmt.Sprint(len(w.acked)) {
			t.Fatalf("%s of %d acknowledged commits on the new primary b", n, len(w.acked))
		}
		harness.Wait(t, 60*time.Second, "a and c to follow b", func() (bool, error) {
			info := hc.list(t)
			return info.Leader == "b" && info.streaming() == 2, fmt.Errorf("%+v", info)
		})
		if p := hc.primaries(t); !slices.Equal(p, []string{"b"}) {
			t.Fatalf("primaries %v", p)
		}
		hist := hc.ctl(t, nil, "history")
		if hist.code != 0 || !strings.Contains(hist.stdout, "b") {
			t.Errorf("ctl history: %s", hist)
		}
	})

	t.Run("scheduled switchover", func(t *testing.T) {
		at := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339)
		r := hc.ctl(t, nil, "switchover", "--to", "c", "--scheduled", at, "--force")
		if r.code != 0 || !strings.Contains(r.stdout, "scheduled at") {
			t.Fatalf("scheduled switchover: %s", r)
		}
		if l := hc.ctl(t, nil, "list"); !strings.Contains(l.stdout, "Pending switchover: from b to c at") || hc.list(t).Leader != "b" {
			t.Errorf("ctl list with a scheduled switchover: %s", l)
		}
		if again := hc.ctl(t, nil, "switchover", "--to", "a", "--force"); again.code == 0 || !strings.Contains(again.stderr, "pending already") {
			t.Errorf("a second switchover while one is scheduled: %s", again)
		}
		hc.waitLeader(t, "c")
		harness.Wait(t, 60*time.Second, "a and b to follow c", func() (bool, error) {
			info := hc.list(t)
			return info.Leader == "c" && info.streaming() == 2, fmt.Errorf("%+v", info)
		})
		t.Logf("scheduled at %s, carried out at %s", at, time.Now().UTC().Format(time.RFC3339Nano))
	})

	t.Run("paused: no failover; resumed: failover", func(t *testing.T) {
		if r := hc.ctl(t, nil, "pause"); r.code != 0 || !strings.Contains(r.stdout, "paused") {
			t.Fatalf("pause: %s", r)
		}
		if r := hc.ctl(t, nil, "list"); !strings.Contains(r.stdout, "Maintenance mode: on") {
			t.Errorf("ctl list while paused: %s", r)
		}
		dead := hc.list(t).Leader
		b := hc.members[dead]
		b.pg.Kill(t)
		killed := time.Now()
		time.Sleep(3 * 3 * time.Second) // three TTLs
		if info := hc.list(t); info.Leader != dead || len(hc.primaries(t)) != 0 {
			t.Fatalf("paused: leader %q, primaries %v: the agents acted", info.Leader, hc.primaries(t))
		}
		resumed := time.Now()
		if r := hc.ctl(t, nil, "resume"); r.code != 0 {
			t.Fatalf("resume: %s", r)
		}
		var leader string
		for deadline := time.Now().Add(60 * time.Second); leader == ""; time.Sleep(100 * time.Millisecond) {
			if p := hc.primaries(t); len(p) == 1 && p[0] != dead {
				leader = p[0]
			} else if time.Now().After(deadline) {
				t.Fatalf("no failover after resume: primaries %v\n--- %s's agent:\n%s", p, dead, b.logTail())
			}
		}
		t.Logf("killed %s's PostgreSQL while paused: no failover in %s; after resume %s took over in %s", dead,
			resumed.Sub(killed).Round(time.Millisecond), leader, time.Since(resumed).Round(time.Millisecond))

		// Paused again, the new primary dies: the operator fails over by
		// hand to a named member.
		if r := hc.ctl(t, nil, "pause"); r.code != 0 {
			t.Fatalf("pause: %s", r)
		}
		hc.waitLeader(t, leader)
		to := "a"
		if leader == "a" {
			to = "c"
		}
		hc.members[leader].pg.Kill(t)
		start := time.Now()
		r := hc.ctl(t, nil, "failover", "--to", to, "--force")
		if r.code != 0 {
			t.Fatalf("failover to %s while paused: %s\n--- %s:\n%s", to, r, leader, hc.members[leader].logTail())
		}
		hc.waitLeader(t, to)
		t.Logf("paused, %s's PostgreSQL killed: ctl failover --to %s: %s (%s)", leader, to, strings.TrimSpace(r.stdout),
			time.Since(start).Round(time.Millisecond))
		if p := hc.primaries(t); !slices.Equal(p, []string{to}) {
			t.Fatalf("primaries %v", p)
		}
		if r := hc.ctl(t, nil, "resume"); r.code != 0 {
			t.Fatalf("resume: %s", r)
		}
	})
}

// Bad input: no etcd endpoints; a member name used twice; a reinit the
// member refuses.
func TestHABadInput(t *testing.T) {
	dir := harness.Dir(t)
	noEtcd := filepath.Join(dir, "noetcd.yaml")
	writeFile(t, noEtcd, "cluster: main\npg:\n  data: "+dir+"\n  host: 127.0.0.1\n")
	r := pgkeep(t, nil, "--config", noEtcd, "ha")
	if r.code != 2 || !strings.Contains(r.stderr, "etcd.endpoints") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("ha without etcd: %s; want exit 2 and one line naming etcd.endpoints", r)
	}

	// A member whose agent refuses to reinitialize: ctl prints why.
	e := harness.StartEtcd(t)
	refuser := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/reinitialize" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":"x is the leader: a leader is never reinitialized"}`)
	}))
	defer refuser.Close()
	if _, err := e.Client.Put(t.Context(), "/service/other/members/x",
		`{"conn_url":"postgres://127.0.0.1:1/postgres","api_url":"`+refuser.URL+`/patroni","state":"running","role":"primary"}`); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "ctl.yaml")
	writeFile(t, cfg, "cluster: other\n"+etcdYAML(e))
	r = pgkeep(t, nil, "--config", cfg, "ctl", "reinit", "x")
	if r.code == 0 || !strings.Contains(r.stderr, "a leader is never reinitialized") {
		t.Errorf("refused reinit: %s", r)
	}
	r = pgkeep(t, nil, "--config", cfg, "ctl", "reinit", "nobody")
	if r.code == 0 || !strings.Contains(r.stderr, "nobody is not a member") {
		t.Errorf("reinit of no member: %s", r)
	}
}

// A second agent with a member name in use is refused; the first goes on.
func TestHANameInUse(t *testing.T) {
	hc := &haCluster{etcd: harness.StartEtcd(t), members: map[string]*ctlMember{}, dir: harness.Dir(t)}
	base := haBase(hc) + "ha:\n"
	hc.config = filepath.Join(hc.dir, "ctl.yaml")
	writeFile(t, hc.config, base)
	p := harness.StartPostgres(t, harness.PGOptions{})
	hc.members["a"] = startCtlMember(t, hc, "a", p, base)
	hc.waitLeader(t, "a")
	other := harness.StartStandby(t, p, nil) // same system: only the name is wrong
	dup := startCtlMember(t, hc, "a", other, base)
	select {
	case <-dup.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the second agent named a did not exit")
	}
	log, _ := os.ReadFile(dup.log)
	if dup.err == nil || !strings.Contains(string(log), "member name in use") {
		t.Errorf("second agent: %v\n%s", dup.err, log)
	}
	hc.waitLeader(t, "a")
	info := hc.list(t)
	if info.Leader != "a" || len(info.Members) != 1 {
		t.Errorf("after the duplicate: %+v", info)
	}
}
