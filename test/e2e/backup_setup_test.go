package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// backup runs pgkeep backup against the cluster's server directly.
func (c *cluster) backup(t *testing.T, typ string, extra ...string) result {
	t.Helper()
	args := append([]string{"backup", "--type", typ, "--pg-host", c.pg.Host, "--pg-port", strconv.Itoa(c.pg.Port)}, extra...)
	return c.must(t, args...)
}

// restoreAndStart restores into a new directory with args, starts the
// copy (without archiving: it must not write into the cluster's archive)
// and waits until recovery has ended.
func (c *cluster) restoreAndStart(t *testing.T, args ...string) *harness.Postgres {
	t.Helper()
	dir := filepath.Join(harness.Dir(t), "data")
	c.must(t, append([]string{"restore", "--pgdata", dir}, args...)...)
	return c.startRestored(t, dir)
}

// startRestored starts the restored data directory dir (without archiving:
// it must not write into the cluster's archive) and waits until recovery
// has ended.
func (c *cluster) startRestored(t *testing.T, dir string) *harness.Postgres {
	t.Helper()
	copy := harness.StartPostgres(t, harness.PGOptions{NoInitdb: true, DataDir: dir, Env: c.env,
		Conf: map[string]string{"archive_mode": "off"}})
	harness.Wait(t, 2*time.Minute, "the restored server to finish recovery", func() (bool, error) {
		v, err := copy.TryQueryString(context.Background(), "SELECT pg_is_in_recovery()")
		return v == "f", err
	})
	return copy
}

// ids returns the marker ids of a server, in order.
func ids(t *testing.T, p *harness.Postgres) []int {
	t.Helper()
	s := p.QueryString(t, "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM marks")
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// prefix reports whether got is exactly 1..n.
func isPrefix(got []int, n int) error {
	if len(got) != n {
		return fmt.Errorf("%d rows, want ids 1..%d", len(got), n)
	}
	for i, v := range got {
		if v != i+1 {
			return fmt.Errorf("row %d has id %d", i, v)
		}
	}
	return nil
}
