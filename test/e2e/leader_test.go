package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/internal/etcdlock"
	"github.com/pgkeep/pgkeep/test/harness"
)

// A backup without --pg-host finds its source through the leader key in
// etcd (Patroni's layout) and stores the configured files outside PGDATA,
// which restore --restore-config writes back.
func TestBackupFromEtcdLeaderWithConfigFiles(t *testing.T) {
	etcd := harness.StartEtcd(t)
	c := startArchiving(t, posixRepo(t))
	c.pg.Pgbench(t, "-i", "-s", "1", "-q")

	confDir := harness.Dir(t)
	conf := filepath.Join(confDir, "pg_hba_outside.conf")
	writeFile(t, conf, "# kept outside PGDATA, like Debian's /etc/postgresql/15/main\nhost all all 127.0.0.1/32 trust\n")

	ctx := context.Background()
	member := fmt.Sprintf(`{"conn_url":"postgres://127.0.0.1:%d/postgres","api_url":"http://127.0.0.1:8008/patroni","state":"running","role":"master","timeline":1}`, c.pg.Port)
	if _, err := etcd.Client.Put(ctx, "/service/e2e/members/pg-a", member); err != nil {
		t.Fatal(err)
	}
	if _, err := etcd.Client.Put(ctx, "/service/e2e/leader", "pg-a"); err != nil {
		t.Fatal(err)
	}

	etcdArgs := []string{"--etcd-endpoints", strings.Join(etcd.Endpoints, ",")}

	// With etcd configured the cluster lock is an etcd lease: while another
	// process holds it, backup refuses at once.
	held, err := (&etcdlock.Locker{Client: etcd.Client, Namespace: "/service"}).Lock(ctx, "e2e", "expire", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := c.run(t, append(etcdArgs, "backup", "--type", "full")...)
	if r.code < 3 || !strings.Contains(r.stderr, "locked") {
		t.Fatalf("backup while another process holds the etcd lock: %s", r)
	}
	held.Release(ctx)

	r = c.must(t, append(etcdArgs, "backup", "--type", "full", "--backup-config-files", conf)...)
	if !strings.Contains(r.stdout, "pg-a") {
		t.Fatalf("the backup does not name the leader pg-a as its source: %s", r)
	}

	// No leader key: a clear error, nothing written.
	if _, err := etcd.Client.Delete(ctx, "/service/e2e/leader"); err != nil {
		t.Fatal(err)
	}
	r = c.run(t, append(etcdArgs, "backup", "--type", "full")...)
	if r.code < 3 || !strings.Contains(r.stderr, "no leader key") {
		t.Fatalf("backup without a leader key: %s", r)
	}
	if labels := backupLabels(t, c); len(labels) != 1 {
		t.Fatalf("backups after the refused one: %v", labels)
	}

	out := harness.Dir(t)
	dest := filepath.Join(harness.Dir(t), "data")
	c.must(t, "restore", "--pgdata", dest, "--restore-config="+out)
	got, err := os.ReadFile(filepath.Join(out, filepath.Base(conf)))
	want, _ := os.ReadFile(conf)
	if err != nil || string(got) != string(want) {
		t.Fatalf("restored configuration file: %q, %v; want %q", got, err, want)
	}
}
