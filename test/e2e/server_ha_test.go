package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// putLeader writes the leader key and member key of Patroni's layout for
// the member name serving at port, as a failover controller would.
func putLeader(t *testing.T, etcd *harness.Etcd, name string, port int) {
	t.Helper()
	member := fmt.Sprintf(`{"conn_url":"postgres://127.0.0.1:%d/postgres","api_url":"http://127.0.0.1:8008/patroni","state":"running","role":"master","timeline":1}`, port)
	if _, err := etcd.Client.Put(t.Context(), "/service/e2e/members/"+name, member); err != nil {
		t.Fatal(err)
	}
	if _, err := etcd.Client.Put(t.Context(), "/service/e2e/leader", name); err != nil {
		t.Fatal(err)
	}
}

// etcdYAML is the etcd section for the embedded etcd.
func etcdYAML(etcd *harness.Etcd) string {
	return "etcd:\n  endpoints: [" + strings.Join(etcd.Endpoints, ", ") + "]\n"
}

// activeOf returns the servers that say they are active.
func activeOf(t *testing.T, servers ...*serverProc) []string {
	var out []string
	for _, s := range servers {
		if st, err := s.status(t); err == nil && st.Role == "active" {
			out = append(out, s.name)
		}
	}
	return out
}

// Two servers for one cluster: one streams; kill -9 of it makes the other
// take over within the lease TTL, and PostgreSQL never sees two streams.
func TestServerStandbyTakesOver(t *testing.T) {
	etcd := harness.StartEtcd(t)
	c := streamingCluster(t, posixRepo(t), nil)
	putLeader(t, etcd, "pg-a", c.pg.Port)
	extra := etcdYAML(etcd) + "server:\n  lease-ttl: 3s\n  partial-interval: 1s\n"
	a := startServer(t, c, "repo-a", extra)
	b := startServer(t, c, "repo-b", extra)

	// Count the receiver's walsenders every 50 ms for the whole test.
	var most atomic.Int32
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	probe := make(chan struct{})
	go func() {
		defer close(probe)
		for ctx.Err() == nil {
			v, err := c.pg.TryQueryString(ctx, "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pgkeep'")
			if err == nil {
				var n int32
				fmt.Sscan(v, &n)
				if n > most.Load() {
					most.Store(n)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	var active []string
	harness.Wait(t, 20*time.Second, "one active server", func() (bool, error) {
		active = activeOf(t, a, b)
		return len(active) == 1, nil
	})
	first, other := a, b
	if active[0] == b.name {
		first, other = b, a
	}
	waitReceiver(t, c.pg, 20*time.Second, "the active server to stream")
	// The standby learns the active server's name from an etcd watch, a
	// moment after the election.
	harness.Wait(t, 10*time.Second, "standby "+other.name+" to name "+first.name+" active", func() (bool, error) {
		st, err := other.status(t)
		if err == nil && st.Role != "standby" {
			return false, fmt.Errorf("%s is %s, want standby", other.name, st.Role)
		}
		return err == nil && st.Active == first.name, nil
	})
	c.pg.Exec(t, "CREATE TABLE before_kill AS SELECT generate_series(1, 1000) AS id")
	first.waitArchived(t, c, 10*time.Second)

	first.kill()
	killed := time.Now()
	harness.Wait(t, 15*time.Second, other.name+" to take over streaming", func() (bool, error) {
		st, err := other.status(t)
		return err == nil && st.Role == "active" && st.Stream != nil && st.Stream.Running && st.Stream.Flushed > 0, nil
	})
	took := time.Since(killed)
	c.pg.Exec(t, "CREATE TABLE after_kill AS SELECT generate_series(1, 1000) AS id")
	other.waitArchived(t, c, 15*time.Second)
	t.Logf("standby took over %.1fs after kill -9 (lease TTL 3s)", took.Seconds())
	if took > 3*time.Second+5*time.Second {
		t.Errorf("takeover took %s, want within the TTL plus a few seconds", took)
	}
	cancel()
	<-probe
	if n := most.Load(); n != 1 {
		t.Fatalf("PostgreSQL saw %d pgkeep streams at once", n)
	}
	// The metrics of the new active server say so.
	if !strings.Contains(other.metrics(t), "pgkeep_server_active 1") {
		t.Fatal("the new active server's metrics do not say it is active")
	}
	other.stop(t)
}

// Scheduled full and incr backups run, appear in info, and expire keeps
// the retention; verify runs on its schedule.
func TestServerSchedules(t *testing.T) {
	c := streamingCluster(t, posixRepo(t), nil)
	s := startServer(t, c, "sched", pgYAML(c)+"retention:\n  full: 1\nserver:\n  partial-interval: 1s\n  schedule:\n"+
		"    full: \"@every 15s\"\n    incr: \"@every 5s\"\n    verify: \"@every 10s\"\n")
	c.pg.Pgbench(t, "-i", "-s", "2", "-q")
	runs := func(job string) float64 {
		m := s.metrics(t)
		name := fmt.Sprintf(`pgkeep_job_runs_total{job="%s",result="success"}`, job)
		for _, line := range strings.Split(m, "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				var f float64
				fmt.Sscan(v, &f)
				return f
			}
		}
		return 0
	}
	harness.Wait(t, 90*time.Second, "two full backups, an incr and a verify", func() (bool, error) {
		return runs("full") >= 2 && runs("incr") >= 1 && runs("verify") >= 1, nil
	})
	info := c.info(t)
	fulls := 0
	for _, b := range info.Clusters[0].Backups {
		if b.Type == "full" {
			fulls++
		}
	}
	if fulls != 1 {
		t.Fatalf("retention.full 1 after %v full backups, info lists %d full: %+v\n%s", runs("full"), fulls, info, s.logTail())
	}
	st, err := s.status(t)
	if err != nil || st.Jobs["full"].LastSuccess.IsZero() || st.Jobs["verify"].LastError != "" {
		t.Fatalf("status: %+v, %v", st.Jobs, err)
	}
	if r := c.run(t, "verify"); r.code != 0 {
		t.Fatalf("verify after scheduled backups and expires: %s", r)
	}

	// A failing run (the database is down) is counted and retried.
	c.pg.Stop(t)
	failures := func() float64 {
		var n float64
		for _, line := range strings.Split(s.metrics(t), "\n") {
			if strings.HasPrefix(line, `pgkeep_job_runs_total{job="incr",result="failure"} `) ||
				strings.HasPrefix(line, `pgkeep_job_runs_total{job="full",result="failure"} `) {
				var f float64
				fmt.Sscan(strings.Fields(line)[1], &f)
				n += f
			}
		}
		return n
	}
	harness.Wait(t, 30*time.Second, "a failed scheduled backup in the metrics", func() (bool, error) {
		return failures() >= 1, nil
	})
	st, _ = s.status(t)
	if st.Jobs["incr"].LastError == "" && st.Jobs["full"].LastError == "" {
		t.Fatalf("status shows no error while the database is down: %+v", st.Jobs)
	}
	before := runs("incr") + runs("full")
	c.pg.Start(t)
	harness.Wait(t, 60*time.Second, "the retried backup to succeed", func() (bool, error) {
		return runs("incr")+runs("full") > before, nil
	})
	s.stop(t)
}
