package e2e

import (
	"context"
	"fmt"
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

// startCtlHAProxy runs Debian's haproxy on configs/haproxy.cfg in front of
// members a, b and c (as pg1, pg2, pg3).
func startCtlHAProxy(t *testing.T, hc *haCluster) *haproxy {
	t.Helper()
	bin := harness.RequireHAProxy(t)
	h := &haproxy{primary: harness.FreePort(t), replicas: harness.FreePort(t)}
	var members []proxied
	for _, name := range []string{"a", "b", "c"} {
		m := hc.members[name]
		members = append(members, proxied{m.pg.Port, m.api[strings.LastIndex(m.api, ":")+1:]})
	}
	runHAProxy(t, bin, members, h.primary, h.replicas)
	return h
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
