package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgkeep/pgkeep/test/harness"
)

// TestHAProxyExample starts Debian's HAProxy on configs/haproxy.cfg (its
// placeholders set to the test's loopback ports) in front of three
// `pgkeep ha` members: writes through the read-write port reach the
// primary, reads through the read-only port a replica; after kill -9 of the
// primary member, writes through the same port reach the new primary.
func TestHAProxyExample(t *testing.T) {
	bin := harness.RequireHAProxy(t)
	c := startBridgedCluster(t, 3)
	rw, ro := harness.FreePort(t), harness.FreePort(t)
	startHAProxy(t, bin, c, rw, ro)

	p := c.primary(t, 10*time.Second)
	at := waitRouted(t, 30*time.Second, rw, true, "INSERT INTO probe (member, seq) VALUES ('haproxy', 1)")
	if at != p.pg.Port {
		t.Fatalf("a write through the read-write port reached port %d, the primary %s is on %d", at, p.name, p.pg.Port)
	}
	replicaPorts := []int{}
	for _, m := range c.others(p) {
		replicaPorts = append(replicaPorts, m.pg.Port)
	}
	if at := waitRouted(t, 30*time.Second, ro, false, ""); !slices.Contains(replicaPorts, at) {
		t.Fatalf("a read through the read-only port reached port %d, the replicas are on %v", at, replicaPorts)
	}

	p.kill()
	p.pg.Kill(t)
	killed := time.Now()
	at = waitRouted(t, 60*time.Second, rw, true, "INSERT INTO probe (member, seq) VALUES ('haproxy', 2)")
	t.Logf("kill -9 of member %s to the first write through HAProxy: %s", p.name, time.Since(killed).Round(time.Millisecond))
	next := c.primary(t, 10*time.Second)
	if next == p || at != next.pg.Port {
		t.Fatalf("after the failover a write through the read-write port reached port %d; the new primary %s is on %d", at, next.name, next.pg.Port)
	}
	got := next.pg.QueryString(t, "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM probe WHERE member = 'haproxy'")
	if got != "1,2" {
		t.Fatalf("rows written through HAProxy on the new primary: %q, want 1,2", got)
	}
	others := c.others(next)
	survivor := others[0]
	if survivor == p {
		survivor = others[1]
	}
	if at := waitRouted(t, 30*time.Second, ro, false, ""); at != survivor.pg.Port {
		t.Fatalf("after the failover a read through the read-only port reached port %d, the replica %s is on %d", at, survivor.name, survivor.pg.Port)
	}
}

// proxied is a member as configs/haproxy.cfg names it (PGKEEP_PGn).
type proxied struct {
	pgPort  int
	apiPort string
}

// startHAProxy runs haproxy -db on configs/haproxy.cfg with the members'
// addresses in its environment, and kills it at cleanup.
func startHAProxy(t *testing.T, bin string, c *bridgedCluster, rw, ro int) {
	t.Helper()
	var members []proxied
	for _, m := range c.members {
		members = append(members, proxied{m.pg.Port, m.api[len("http://127.0.0.1:"):]})
	}
	runHAProxy(t, bin, members, rw, ro)
}

// runHAProxy runs haproxy -db on configs/haproxy.cfg as it is, its
// placeholders set in the environment: the read-write and read-only
// listeners on 127.0.0.1:rw and :ro, members as pg1, pg2, pg3. It kills
// haproxy at cleanup.
func runHAProxy(t *testing.T, bin string, members []proxied, rw, ro int) {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	cfg := filepath.Join(filepath.Dir(self), "..", "..", "configs", "haproxy.cfg")
	env := []string{fmt.Sprintf("PGKEEP_HAPROXY_RW=127.0.0.1:%d", rw), fmt.Sprintf("PGKEEP_HAPROXY_RO=127.0.0.1:%d", ro)}
	for i, m := range members {
		env = append(env, fmt.Sprintf("PGKEEP_PG%d=127.0.0.1:%d", i+1, m.pgPort), fmt.Sprintf("PGKEEP_PG%d_API_PORT=%s", i+1, m.apiPort))
	}
	check := exec.Command(bin, "-c", "-f", cfg)
	check.Env = append(os.Environ(), env...)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c -f %s: %v\n%s", cfg, err, out)
	}
	log := filepath.Join(t.TempDir(), "haproxy.log")
	logf, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-db", "-f", cfg)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy log (tail):\n%s", tailFile(log, 30))
		}
	})
}

// waitRouted waits until a connection through HAProxy's port runs sql
// (when not empty) on a server that is a primary (or a standby) and
// returns that server's port.
func waitRouted(t *testing.T, timeout time.Duration, port int, primary bool, sql string) int {
	t.Helper()
	var at int
	harness.Wait(t, timeout, fmt.Sprintf("HAProxy's port %d to reach a server (primary %t)", port, primary), func() (bool, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, "host=127.0.0.1 port="+strconv.Itoa(port)+" user=postgres dbname=postgres sslmode=disable")
		if err != nil {
			return false, err
		}
		defer conn.Close(context.Background())
		var standby bool
		if err := conn.QueryRow(ctx, "SELECT inet_server_port(), pg_is_in_recovery()").Scan(&at, &standby); err != nil {
			return false, err
		}
		if standby == primary {
			return false, fmt.Errorf("port %d reached %d, in recovery: %t", port, at, standby)
		}
		if sql != "" {
			if _, err := conn.Exec(ctx, sql); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	return at
}
