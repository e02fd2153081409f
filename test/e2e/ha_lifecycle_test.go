package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// haMember is a `pgkeep ha` process on its own, initially empty, data
// directory.
type haMember struct{ agent }

// startHAMember starts `pgkeep ha` for member name of cluster with the
// repository repo and extra YAML under ha:.
func startHAMember(t *testing.T, etcd *harness.Etcd, repo repoSetup, cluster, name, haExtra string) *haMember {
	t.Helper()
	m := &haMember{newAgent(t, name)}
	dir, port := m.dir, harness.FreePort(t)
	data := filepath.Join(dir, "data")
	m.pg = harness.Managed(t, data, port, dir, filepath.Join(data, "pg_ctl.log"))
	writeFile(t, m.config, fmt.Sprintf(`cluster: %s
log-level: info
%spg:
  data: %s
  host: 127.0.0.1
  port: %d
  bin: %s
  parameters:
    unix_socket_directories: %s
    fsync: "off"
    shared_buffers: 16MB
    dynamic_shared_memory_type: mmap
%sha:
  name: %s
  listen: 127.0.0.1:%d
%s`, cluster, repo.yaml, data, port, filepath.Dir(harness.PGBin("pg_ctl")), dir, etcdYAML(etcd), name, m.port, haExtra))
	m.start(t, context.Background(), repo.env)
	t.Cleanup(func() {
		m.terminate(60 * time.Second)
		if t.Failed() {
			t.Logf("pgkeep ha %s log (tail):\n%s", m.name, tailFile(m.log, 60))
		}
	})
	return m
}

// waitArchived switches WAL on the member and waits until the archiver
// has archived the finished segment, without a failure.
func waitArchived(t *testing.T, m *haMember) {
	t.Helper()
	seg := m.pg.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())")
	harness.Wait(t, time.Minute, "the archiver of "+m.name+" to report "+seg, func() (bool, error) {
		last, err := m.pg.TryQueryString(context.Background(), "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
		return last >= seg, err
	})
	if failed := m.pg.QueryString(t, "SELECT failed_count FROM pg_stat_archiver"); failed != "0" {
		t.Fatalf("archive_command of %s failed %s times", m.name, failed)
	}
}

// pgkeep ha with a repository: the first member bootstraps the cluster
// and archives into the repository by itself; after a backup, a new member
// on an empty data directory becomes a streaming replica restored from
// that backup; and a new cluster is bootstrapped from the backup set,
// recovered to a time between two batches of rows: it holds exactly the
// rows committed before, takes writes on a new timeline and archives
// under its own name.
func TestHAReplicaAndClusterFromBackup(t *testing.T) {
	etcd := harness.StartEtcd(t)
	repo := posixRepo(t)
	a := startHAMember(t, etcd, repo, "src", "a", "")
	a.waitCheck(t, 2*time.Minute, "/primary", http.StatusOK)
	a.pg.Exec(t, "CREATE TABLE marks (id int PRIMARY KEY); INSERT INTO marks SELECT generate_series(1, 100)")
	mustPgkeep(t, repo.env, "--config", a.config, "backup", "--type", "full")
	a.pg.Exec(t, "INSERT INTO marks SELECT generate_series(101, 200)")
	target := time.Now()
	time.Sleep(200 * time.Millisecond)
	a.pg.Exec(t, "INSERT INTO marks SELECT generate_series(201, 300)")
	waitArchived(t, a)

	t.Run("replica from the newest backup", func(t *testing.T) {
		start := time.Now()
		b := startHAMember(t, etcd, repo, "src", "b", "  replica-method: backup\n")
		b.waitCheck(t, 2*time.Minute, "/replica", http.StatusOK)
		harness.Wait(t, time.Minute, "b to stream from a", func() (bool, error) {
			v, err := b.pg.TryQueryString(t.Context(), "SELECT coalesce((SELECT status FROM pg_stat_wal_receiver), 'none')")
			return v == "streaming", err
		})
		t.Logf("b streams %s after its agent started", time.Since(start).Round(time.Millisecond))
		if !b.logged("replica restored from backup") || b.logged("replica copied with pg_basebackup") {
			t.Fatalf("b was not created from the backup:\n%s", tailFile(b.log, 40))
		}
		a.pg.Exec(t, "INSERT INTO marks SELECT generate_series(301, 400)")
		harness.Wait(t, time.Minute, "the new rows on b", func() (bool, error) {
			v, err := b.pg.TryQueryString(t.Context(), "SELECT count(*) FROM marks")
			return v == "400", err
		})
		want := a.pg.QueryString(t, "SELECT md5(string_agg(id::text, ',' ORDER BY id)) FROM marks")
		if got := b.pg.QueryString(t, "SELECT md5(string_agg(id::text, ',' ORDER BY id)) FROM marks"); got != want {
			t.Fatal("b's rows differ from a's")
		}
	})

	t.Run("new cluster from a backup set to a time", func(t *testing.T) {
		n := startHAMember(t, etcd, repo, "dst", "n1", fmt.Sprintf("  bootstrap:\n    method: backup\n    cluster: src\n    set: latest\n    target-time: %q\n",
			target.UTC().Format("2006-01-02 15:04:05.999999-07")))
		n.waitCheck(t, 3*time.Minute, "/primary", http.StatusOK)
		if err := isPrefix(ids(t, n.pg), 200); err != nil {
			t.Fatalf("the new cluster, recovered to between rows 200 and 201: %v", err)
		}
		n.pg.Exec(t, "INSERT INTO marks VALUES (1000)")
		if tl := n.pg.QueryString(t, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"); tl == "00000001" {
			t.Fatal("the new cluster still writes timeline 1")
		}
		seg := n.pg.QueryString(t, "SELECT pg_walfile_name(pg_current_wal_lsn())")
		waitArchived(t, n)
		if _, err := os.Stat(filepath.Join(repo.path, "dst", "wal", seg[:16], seg)); err != nil {
			t.Fatalf("the new cluster's WAL is not archived under its own name: %v", err)
		}
		// The new cluster leads its own scope, keeps the source's system
		// identifier, and is registered with it under its own name.
		sysid := a.pg.QueryString(t, "SELECT system_identifier::text FROM pg_control_system()")
		for k, want := range map[string]string{"leader": "n1", "initialize": sysid} {
			resp, err := etcd.Client.Get(t.Context(), "/service/dst/"+k)
			if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != want {
				t.Fatalf("/service/dst/%s: %v %v, want %s", k, resp, err, want)
			}
		}
		info := decodeInfo(t, mustPgkeep(t, repo.env, "--config", n.config, "info", "--output", "json").stdout)
		if len(info.Clusters) != 1 || info.Clusters[0].Name != "dst" || info.Clusters[0].SystemID != sysid {
			t.Fatalf("info of dst: %+v, want dst with system identifier %s", info.Clusters, sysid)
		}

		// A second member of the new cluster: no backup of dst yet, so
		// pg_basebackup from its leader.
		n2 := startHAMember(t, etcd, repo, "dst", "n2", "")
		n2.waitCheck(t, 2*time.Minute, "/replica", http.StatusOK)
		n.pg.Exec(t, "INSERT INTO marks VALUES (1001)")
		harness.Wait(t, time.Minute, "n2 to have the new row", func() (bool, error) {
			v, err := n2.pg.TryQueryString(t.Context(), "SELECT count(*) FROM marks")
			return v == "202", err
		})
		if !n2.logged("replica copied with pg_basebackup") {
			t.Fatalf("n2 was not copied with pg_basebackup:\n%s", tailFile(n2.log, 30))
		}
	})
}

// pgkeep ha needs no repository, but etcd; a bootstrap from a backup
// needs a repository: each refused with one line and exit 2.
func TestHAConfigRefusals(t *testing.T) {
	dir := harness.Dir(t)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no etcd (and no repository, which is fine)", []string{"--cluster", "c", "--pgdata", dir, "ha"}, "etcd.endpoints: pgkeep ha needs etcd"},
		{"bootstrap from a backup without a repository", []string{"--cluster", "c", "--pgdata", dir, "--etcd-endpoints", "127.0.0.1:1",
			"--pg-host", "127.0.0.1", "--ha-bootstrap-method", "backup", "ha"}, "bootstrap from a backup needs a repository"},
		{"a target time without a backup bootstrap", []string{"--cluster", "c", "--pgdata", dir, "--etcd-endpoints", "127.0.0.1:1",
			"--pg-host", "127.0.0.1", "--ha-bootstrap-target-time", "2026-01-01 00:00:00+00", "ha"}, "only with ha.bootstrap.method backup"},
		{"a managed parameter", []string{"--cluster", "c", "--pgdata", dir, "--etcd-endpoints", "127.0.0.1:1",
			"--pg-parameters", "primary_conninfo=host=x", "ha"}, "pg.parameters: primary_conninfo is managed by pgkeep ha"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := pgkeep(t, nil, c.args...)
			if r.code != 2 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Fatalf("%s; want exit 2 and one line with %q", r, c.want)
			}
		})
	}
}
