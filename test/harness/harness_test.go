package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestPostgresSurvivesKill(t *testing.T) {
	t.Parallel()
	pg := StartPostgres(t, PGOptions{})
	pg.Exec(t, "CREATE TABLE kv (k text PRIMARY KEY, v int); INSERT INTO kv VALUES ('a', 1), ('b', 2)")
	if got := pg.QueryString(t, "SELECT sum(v) FROM kv WHERE k = ANY($1)", []string{"a", "b"}); got != "3" {
		t.Fatalf("sum = %q, want 3", got)
	}
	if got := pg.QueryString(t, "SHOW data_checksums"); got != "on" {
		t.Fatalf("data_checksums = %q, want on", got)
	}

	pg.Kill(t)
	if pg.running() {
		t.Fatal("postmaster still running after Kill")
	}
	pg.Start(t)
	if got := pg.QueryString(t, "SELECT v FROM kv WHERE k = 'b'"); got != "2" {
		t.Fatalf("after Kill+Start v = %q, want 2", got)
	}

	pg.Stop(t)
	pg.Start(t)
	if got := pg.Psql(t, "SELECT count(*) FROM kv"); got != "2" {
		t.Fatalf("psql count = %q, want 2", got)
	}
	if got := pg.QueryString(t, "SELECT NULL::text"); got != "" {
		t.Fatalf("NULL = %q, want empty", got)
	}
}

func TestPostgresConn(t *testing.T) {
	t.Parallel()
	pg := StartPostgres(t, PGOptions{})
	conn := pg.Conn(t)
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT 40 + $1::int", 2).Scan(&n); err != nil || n != 42 {
		t.Fatalf("SELECT = %d, %v; want 42", n, err)
	}

	rc, err := pgconn.Connect(t.Context(), pg.ReplicationConnString())
	if err != nil {
		t.Fatalf("replication connection: %v", err)
	}
	defer rc.Close(context.Background())
	res, err := rc.Exec(t.Context(), "IDENTIFY_SYSTEM").ReadAll()
	if err != nil || len(res) != 1 || len(res[0].Rows) != 1 {
		t.Fatalf("IDENTIFY_SYSTEM = %v, %v", res, err)
	}

	pg.Exec(t, "ALTER SYSTEM SET work_mem = '7MB'")
	pg.Reload(t)
	if got := pg.QueryString(t, "SHOW work_mem"); got != "7MB" {
		t.Fatalf("work_mem after Reload = %q, want 7MB", got)
	}
}

func TestPostgresPgbench(t *testing.T) {
	t.Parallel()
	pg := StartPostgres(t, PGOptions{})
	pg.Pgbench(t, "-i", "-s", "1", "-q")
	pg.Pgbench(t, "-n", "-c", "2", "-t", "20")
	if got := pg.QueryString(t, "SELECT count(*) FROM pgbench_accounts"); got != "100000" {
		t.Fatalf("pgbench_accounts rows = %q, want 100000", got)
	}
	if got := pg.QueryString(t, "SELECT count(*) FROM pgbench_history"); got != "40" {
		t.Fatalf("pgbench_history rows = %q, want 40", got)
	}
}

// TestPostgresArchiveAndCopy checks Conf and Env reach archive_command, and
// that a copy of a data directory starts with NoInitdb.
func TestPostgresArchiveAndCopy(t *testing.T) {
	t.Parallel()
	archive := Dir(t)
	pg := StartPostgres(t, PGOptions{
		Conf: map[string]string{
			"archive_mode":    "on",
			"archive_command": quoteConf(`test "$MARK" = yes && cp %p ` + archive + `/%f`),
		},
		Env: []string{"MARK=yes"},
	})
	pg.Exec(t, "CREATE TABLE t AS SELECT 1 AS x")
	wal := pg.QueryString(t, "SELECT pg_walfile_name(pg_current_wal_lsn())")
	pg.Exec(t, "SELECT pg_switch_wal()")
	Wait(t, 10*time.Second, "WAL segment "+wal+" in the archive", func() (bool, error) {
		_, err := os.Stat(filepath.Join(archive, wal))
		return err == nil, err
	})

	pg.Stop(t)
	copyDir := filepath.Join(Dir(t), "copy")
	if out, err := exec.Command("cp", "-a", pg.DataDir, copyDir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	cp := StartPostgres(t, PGOptions{NoInitdb: true, DataDir: copyDir, Conf: map[string]string{"archive_mode": "off"}})
	if cp.Port == pg.Port || cp.DataDir != copyDir {
		t.Fatalf("copy runs on port %d in %s; original on %d", cp.Port, cp.DataDir, pg.Port)
	}
	if got := cp.QueryString(t, "SELECT x FROM t"); got != "1" {
		t.Fatalf("copy: x = %q, want 1", got)
	}
}

func TestEtcdPutGet(t *testing.T) {
	t.Parallel()
	e := StartEtcd(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := e.Client.Put(ctx, "/pgkeep/leader", "node1"); err != nil {
		t.Fatalf("put: %v", err)
	}
	resp, err := e.NewClient(t).Get(ctx, "/pgkeep/leader")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "node1" {
		t.Fatalf("get = %v, %v; want node1", resp, err)
	}
}

// fakeTB records how a helper ends the test.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	fatal    string
	skipped  string
	finished chan struct{}
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	panic(f)
}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.mu.Lock()
	f.skipped = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	panic(f)
}

// run calls fn with f and recovers from the Fatalf/Skipf it ends with.
func (f *fakeTB) run(fn func(testing.TB)) {
	defer func() {
		if r := recover(); r != nil && r != f {
			panic(r)
		}
	}()
	fn(f)
}

func TestWaitTimesOutWithLastError(t *testing.T) {
	t.Parallel()
	f := &fakeTB{}
	calls := 0
	f.run(func(tb testing.TB) {
		Wait(tb, 100*time.Millisecond, "the moon", func() (bool, error) {
			calls++
			return false, fmt.Errorf("try %d failed", calls)
		})
	})
	if !strings.Contains(f.fatal, "the moon") || !strings.Contains(f.fatal, fmt.Sprintf("try %d failed", calls)) {
		t.Fatalf("fatal = %q, want what and last error", f.fatal)
	}
	if calls < 2 {
		t.Fatalf("cond called %d times, want polling", calls)
	}
}

func TestRequire(t *testing.T) {
	for _, ci := range []string{"", "false", "true"} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			f := &fakeTB{}
			f.run(func(tb testing.TB) { Require(tb, "thing", "apt-get install thing") })
			msg, wantFail := f.skipped, ci == "true"
			if wantFail {
				msg = f.fatal
			}
			if msg == "" || !strings.Contains(msg, "thing") || !strings.Contains(msg, "apt-get install thing") {
				t.Fatalf("fatal=%q skipped=%q, want fail=%v naming thing and hint", f.fatal, f.skipped, wantFail)
			}
		})
	}
}

func TestRequireProgram(t *testing.T) {
	if got := RequireProgram(t, "/nonexistent/sh", "sh", "apt-get install dash"); got == "" || !strings.HasSuffix(got, "/sh") {
		t.Fatalf("RequireProgram found %q, want sh from PATH", got)
	}
	t.Setenv("CI", "true")
	f := &fakeTB{}
	f.run(func(tb testing.TB) {
		RequireProgram(tb, "/nonexistent/haproxy-x", "haproxy-x-missing", "install haproxy (apt-get install haproxy)")
	})
	if !strings.Contains(f.fatal, "haproxy-x-missing") || !strings.Contains(f.fatal, "install haproxy") {
		t.Fatalf("fatal = %q, want the program and the install hint", f.fatal)
	}
}
