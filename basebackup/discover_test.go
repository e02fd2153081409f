package basebackup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/test/harness"
)

// discoverTimeout is DiscoverOptions.Timeout in the tests: short, since every
// server runs on this machine.
const discoverTimeout = 3 * time.Second

func TestDiscoverLeader(t *testing.T) {
	t.Parallel()
	etcd := harness.StartEtcd(t)
	primary := harness.StartPostgres(t, harness.PGOptions{})
	sysid := systemID(t, primary)
	closed := closedPort(t)
	opts := func(cluster string) DiscoverOptions {
		return DiscoverOptions{Endpoints: etcd.Endpoints, Namespace: "/service/", Cluster: cluster,
			User: "postgres", SystemID: sysid, Timeout: discoverTimeout}
	}
	putKey(t, etcd, "/service/up/leader", "m1")
	putKey(t, etcd, "/service/up/members/m1", memberValue(primary.Port, "master"))
	putKey(t, etcd, "/service/gone/leader", "m1")
	putKey(t, etcd, "/service/down/leader", "m1")
	putKey(t, etcd, "/service/down/members/m1", memberValue(closed, "master"))

	t.Run("leader", func(t *testing.T) {
		src, err := Discover(t.Context(), opts("up"))
		if err != nil {
			t.Fatal(err)
		}
		want := pg.ConnOptions{Host: "127.0.0.1", Port: primary.Port, User: "postgres", Database: "postgres", Timeout: discoverTimeout}
		if src.Member != "m1" || src.Conn != want || src.Info.SystemID != sysid || src.Info.InRecovery {
			t.Errorf("Discover = %+v, want member m1 at %+v with system identifier %d, not in recovery", src, want, sysid)
		}
	})
	t.Run("no leader key", func(t *testing.T) {
		_, err := Discover(t.Context(), opts("nothing"))
		wantErr(t, err, ErrNoLeader, "no leader key at /service/nothing/leader in etcd (is the cluster running, is the scope right?)")
	})
	t.Run("no member key", func(t *testing.T) {
		_, err := Discover(t.Context(), opts("gone"))
		wantErr(t, err, nil, `leader key /service/gone/leader names "m1", but its member key /service/gone/members/m1 is missing`)
	})
	t.Run("unreachable", func(t *testing.T) {
		_, err := Discover(t.Context(), opts("down"))
		wantErr(t, err, nil, fmt.Sprintf("leader m1 (127.0.0.1:%d) unreachable: ", closed))
	})
	t.Run("other cluster", func(t *testing.T) {
		o := opts("up")
		o.SystemID = sysid + 1
		_, err := Discover(t.Context(), o)
		wantErr(t, err, repo.ErrClusterMismatch, fmt.Sprint(sysid), fmt.Sprint(sysid+1), "nothing was written")
	})
	t.Run("direct", func(t *testing.T) {
		direct := pg.ConnOptions{Host: primary.Host, Port: primary.Port}
		src, err := Discover(t.Context(), DiscoverOptions{Direct: &direct, User: "postgres", SystemID: sysid})
		if err != nil {
			t.Fatal(err)
		}
		if src.Member != "" || src.Conn.Port != primary.Port || src.Conn.User != "postgres" || src.Info.SystemID != sysid {
			t.Errorf("Discover = %+v, want the server on port %d as user postgres, system identifier %d", src, primary.Port, sysid)
		}
		_, err = Discover(t.Context(), DiscoverOptions{Direct: &direct, User: "postgres", Standby: true})
		wantErr(t, err, nil, "is not in recovery")
	})
	t.Run("etcd unreachable", func(t *testing.T) {
		o := opts("up")
		o.Endpoints = []string{fmt.Sprintf("http://127.0.0.1:%d", closed)}
		o.Timeout = 300 * time.Millisecond
		_, err := Discover(t.Context(), o)
		wantErr(t, err, context.DeadlineExceeded, "from etcd at "+o.Endpoints[0], "is etcd running there")
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := Discover(ctx, opts("up"))
		wantErr(t, err, context.Canceled)
	})
}

func TestDiscoverStandby(t *testing.T) {
	t.Parallel()
	etcd := harness.StartEtcd(t)
	primary := harness.StartPostgres(t, harness.PGOptions{})
	ahead, behind := startReplica(t, primary), startReplica(t, primary)
	sysid := systemID(t, primary)
	closed := closedPort(t)

	// Hold one replica back, so that the choice must follow replay positions
	// rather than member names.
	behind.Exec(t, "SELECT pg_wal_replay_pause()")
	primary.Exec(t, "CREATE TABLE moved_on AS SELECT 1 AS x")
	lsn := primary.QueryString(t, "SELECT pg_current_wal_insert_lsn()")
	harness.Wait(t, 20*time.Second, "replica to replay "+lsn, func() (bool, error) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		v, err := ahead.TryQueryString(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn)
		return v == "t", err
	})

	opts := func(cluster string) DiscoverOptions {
		return DiscoverOptions{Endpoints: etcd.Endpoints, Cluster: cluster, Standby: true,
			User: "postgres", SystemID: sysid, Timeout: discoverTimeout}
	}
	for _, k := range []struct{ key, value string }{
		{"/service/ha/leader", "m1"},
		{"/service/ha/members/m1", memberValue(primary.Port, "master")},
		{"/service/ha/members/m2", memberValue(behind.Port, "replica")},
		{"/service/ha/members/m3", memberValue(ahead.Port, "replica")},
		{"/service/ha/members/m4", memberValue(closed, "replica")},
		{"/service/alone/leader", "m1"},
		{"/service/alone/members/m1", memberValue(primary.Port, "master")},
		{"/service/stale/leader", "m2"},
		{"/service/stale/members/m1", memberValue(primary.Port, "replica")},
		{"/service/stale/members/m2", memberValue(ahead.Port, "master")},
	} {
		putKey(t, etcd, k.key, k.value)
	}

	t.Run("most advanced replica", func(t *testing.T) {
		src, err := Discover(t.Context(), opts("ha"))
		if err != nil {
			t.Fatal(err)
		}
		if src.Member != "m3" || src.Conn.Port != ahead.Port || !src.Info.InRecovery || src.Info.SystemID != sysid {
			t.Errorf("Discover = %+v, want m3 on port %d, in recovery, system identifier %d", src, ahead.Port, sysid)
		}
	})
	t.Run("only the primary", func(t *testing.T) {
		_, err := Discover(t.Context(), opts("alone"))
		wantErr(t, err, ErrNoStandby, "no usable standby among the members under /service/alone/members/: m1 holds the leader key")
	})
	t.Run("stale roles", func(t *testing.T) {
		_, err := Discover(t.Context(), opts("stale"))
		wantErr(t, err, ErrNoStandby, fmt.Sprintf("m1 (127.0.0.1:%d) is not in recovery", primary.Port), "m2 holds the leader key")
	})
	t.Run("other cluster", func(t *testing.T) {
		o := opts("ha")
		o.SystemID = sysid + 1
		_, err := Discover(t.Context(), o)
		wantErr(t, err, repo.ErrClusterMismatch, "no usable standby", fmt.Sprintf("m4 (127.0.0.1:%d) unreachable", closed))
	})
	t.Run("leader in recovery", func(t *testing.T) {
		o := opts("stale")
		o.Standby = false
		_, err := Discover(t.Context(), o)
		wantErr(t, err, ErrLeaderInRecovery, fmt.Sprintf("leader m2 (127.0.0.1:%d) is in recovery", ahead.Port))
	})
	t.Run("direct", func(t *testing.T) {
		src, err := Discover(t.Context(), DiscoverOptions{Direct: &pg.ConnOptions{Host: ahead.Host, Port: ahead.Port, User: "postgres"}, Standby: true})
		if err != nil {
			t.Fatal(err)
		}
		if !src.Info.InRecovery || src.Member != "" {
			t.Errorf("Discover = %+v, want the replica, given directly", src)
		}
	})
}

// startReplica clones primary with pg_basebackup -R and starts the copy as a
// streaming replica.
func startReplica(t *testing.T, primary *harness.Postgres) *harness.Postgres {
	t.Helper()
	dir := filepath.Join(harness.Dir(t), "data")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := harness.PGCommand(ctx, harness.PGBin("pg_basebackup"), "-D", dir, "-R", "-X", "stream",
		"-c", "fast", "--no-sync", "-h", primary.Host, "-p", strconv.Itoa(primary.Port), "-U", "postgres").CombinedOutput()
	if err != nil {
		t.Fatalf("pg_basebackup: %v\n%s", err, out)
	}
	replica := harness.StartPostgres(t, harness.PGOptions{NoInitdb: true, DataDir: dir})
	harness.Wait(t, 20*time.Second, fmt.Sprintf("replica on port %d to stream", replica.Port), func() (bool, error) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		v, err := replica.TryQueryString(ctx, "SELECT status FROM pg_stat_wal_receiver")
		return v == "streaming", err
	})
	return replica
}

// systemID asks the server for its system identifier.
func systemID(t *testing.T, p *harness.Postgres) uint64 {
	t.Helper()
	s := p.QueryString(t, "SELECT system_identifier FROM pg_control_system()")
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("system identifier %q: %v", s, err)
	}
	return id
}

// closedPort returns a loopback port that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// memberValue is a Patroni member key's value for a server on a local port.
func memberValue(port int, role string) string {
	b, err := json.Marshal(map[string]any{
		"conn_url":      fmt.Sprintf("postgres://127.0.0.1:%d/postgres", port),
		"api_url":       "http://127.0.0.1:8008/patroni",
		"state":         "running",
		"role":          role,
		"xlog_location": 50331816,
		"timeline":      1,
		"version":       "3.3.0",
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}

func putKey(t *testing.T, e *harness.Etcd, key, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := e.Client.Put(ctx, key, value); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// wantErr fails the test unless err matches target (when not nil) and its
// message contains every one of parts.
func wantErr(t *testing.T, err, target error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	t.Logf("error (as expected): %v", err)
	if target != nil && !errors.Is(err, target) {
		t.Errorf("error %q does not match %q", err, target)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}
