package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgkeep/pgkeep/test/harness"
)

// haproxy is configs/haproxy.cfg running in front of a test cluster.
type haproxy struct {
	primary, replicas int // the listeners' ports
}

// startHAProxy runs Debian's haproxy with configs/haproxy.cfg, its
// listeners and servers rewritten to the test's loopback ports (pg1, pg2,
// pg3 are members a, b, c).
func startHAProxy(t *testing.T, hc *haCluster) *haproxy {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if bin = "/usr/sbin/haproxy"; !fileExists(bin) {
			harness.Require(t, "haproxy", "apt-get install haproxy")
		}
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "configs", "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	h := &haproxy{primary: harness.FreePort(t), replicas: harness.FreePort(t)}
	cfg := strings.NewReplacer(
		"bind *:5000", fmt.Sprintf("bind 127.0.0.1:%d", h.primary),
		"bind *:5001", fmt.Sprintf("bind 127.0.0.1:%d", h.replicas),
		"bind 127.0.0.1:7000", fmt.Sprintf("bind 127.0.0.1:%d", harness.FreePort(t)),
	).Replace(string(example))
	server := regexp.MustCompile(`server pg([123]) 10\.0\.0\.[123]:5432 (.*) check port 8008`)
	cfg = server.ReplaceAllStringFunc(cfg, func(line string) string {
		m := server.FindStringSubmatch(line)
		member := hc.members[string(rune('a'+m[1][0]-'1'))]
		apiPort := member.api[strings.LastIndex(member.api, ":")+1:]
		return fmt.Sprintf("server %s 127.0.0.1:%d %s check port %s", member.name, member.pg.Port, m[2], apiPort)
	})
	if strings.Contains(cfg, "10.0.0.") || strings.Contains(cfg, "*:") {
		t.Fatalf("configs/haproxy.cfg changed shape; the test could not rewrite it:\n%s", cfg)
	}
	path := filepath.Join(hc.dir, "haproxy.cfg")
	writeFile(t, path, cfg)
	cmd := exec.Command(bin, "-db", "-f", path)
	logf, err := os.Create(filepath.Join(hc.dir, "haproxy.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	return h
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// through connects through a listener and returns the server's port and
// whether it is in recovery.
func through(ctx context.Context, port int) (int, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port))
	if err != nil {
		return 0, false, err
	}
	defer c.Close(context.Background())
	var p int
	var rec bool
	err = c.QueryRow(ctx, "SELECT inet_server_port(), pg_is_in_recovery()").Scan(&p, &rec)
	return p, rec, err
}

// waitRoutes waits until the primary listener reaches member primary, and
// the replicas listener a replica.
func (h *haproxy) waitRoutes(t *testing.T, hc *haCluster, primary string) {
	t.Helper()
	harness.Wait(t, 30*time.Second, "HAProxy to route to the primary "+primary+" and to a replica", func() (bool, error) {
		port, rec, err := through(t.Context(), h.primary)
		if err != nil || rec || port != hc.members[primary].pg.Port {
			return false, fmt.Errorf("primary listener: port %d, in recovery %v, %v", port, rec, err)
		}
		port, rec, err = through(t.Context(), h.replicas)
		if err != nil || !rec || port == hc.members[primary].pg.Port {
			return false, fmt.Errorf("replicas listener: port %d, in recovery %v, %v", port, rec, err)
		}
		return true, nil
	})
}
