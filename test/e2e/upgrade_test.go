package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/azurite"
	"github.com/pgkeep/pgkeep/test/harness"
)

// upgradeInfo is what TestUpgrade reads of `info --output json`.
type upgradeInfo struct {
	Clusters []struct {
		Generation int    `json:"generation"`
		SystemID   string `json:"system-id"`
		Backups    []struct {
			Label    string `json:"label"`
			Type     string `json:"type"`
			SystemID string `json:"system-id"`
			Window   struct {
				Restorable bool `json:"restorable"`
			} `json:"window"`
		} `json:"backups"`
		RecoveryWindows []json.RawMessage `json:"recovery-windows"`
		Earlier         []struct {
			Generation int    `json:"generation"`
			SystemID   string `json:"system-id"`
			WAL        struct {
				Objects int `json:"objects"`
			} `json:"wal"`
			RecoveryWindows []json.RawMessage `json:"recovery-windows"`
		} `json:"earlier-generations"`
	} `json:"clusters"`
}

// A pg_upgrade gives the cluster a new system identifier. Archiving and
// backups of the upgraded server are refused, with the advice to run
// `create --upgrade`, until it is registered as the cluster's next
// generation; then both generations are restorable from the one
// repository, each with its own WAL, and expire removes the old one's WAL
// with its last backup. Posix and Azurite.
func TestUpgrade(t *testing.T) {
	t.Run("posix", func(t *testing.T) { testUpgrade(t, posixRepo(t)) })
	t.Run("azure", func(t *testing.T) { testUpgrade(t, azureRepo(t, azurite.Start(t))) })
}

func testUpgrade(t *testing.T, repo repoSetup) {
	c := startArchiving(t, repo)
	c.pg.Exec(t, "CREATE TABLE marks (id int PRIMARY KEY)")
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(1, 10)")
	c.switchAndWait(t)
	oldSys := c.pg.QueryString(t, "SELECT system_identifier::text FROM pg_control_system()")
	oldBackup := backupLabel(t, c.backup(t, "full", "--output", "json"))
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(11, 20)")
	c.switchAndWait(t)
	target := time.Now()
	time.Sleep(50 * time.Millisecond)
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(21, 30)")
	c.switchAndWait(t)
	c.pg.Stop(t)

	c.pg = harness.Upgrade(t, c.pg, harness.PGOptions{Conf: c.archivingConf(pgkeepBin), Env: c.env})
	newSys := c.pg.QueryString(t, "SELECT system_identifier::text FROM pg_control_system()")
	if newSys == oldSys {
		t.Fatalf("pg_upgrade kept the system identifier %s", oldSys)
	}

	// Not registered yet: refused, with the way out, and nothing written.
	seg := c.pg.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())")
	r := c.run(t, "archive-push", c.walPath(seg))
	if r.code < 3 || !strings.Contains(r.stderr, newSys) || !strings.Contains(r.stderr, "create --upgrade") {
		t.Fatalf("archive-push of the upgraded server before create --upgrade: %s", r)
	}
	r = c.run(t, "backup", "--type", "full", "--pg-host", c.pg.Host, "--pg-port", strconv.Itoa(c.pg.Port))
	if r.code < 3 || !strings.Contains(r.stderr, "create --upgrade") {
		t.Fatalf("backup of the upgraded server before create --upgrade: %s", r)
	}
	if got := backupLabels(t, c); len(got) != 1 {
		t.Fatalf("backups after the refused one: %v", got)
	}
	if r := c.run(t, "create", "--pg-host", c.pg.Host, "--pg-port", strconv.Itoa(c.pg.Port)); r.code != 3 || !strings.Contains(r.stderr, "create --upgrade") {
		t.Fatalf("create without --upgrade: %s", r)
	}

	r = c.must(t, "create", "--upgrade", "--pg-host", c.pg.Host, "--pg-port", strconv.Itoa(c.pg.Port))
	if !strings.Contains(r.stdout, "upgraded to generation 2") {
		t.Fatalf("create --upgrade: %s", r)
	}
	c.pg.Exec(t, "SELECT pg_stat_reset_shared('archiver')") // the failures before create --upgrade
	c.switchAndWait(t)
	// Outside a data directory archive-get reads the current generation.
	got := filepath.Join(c.dir, seg)
	c.must(t, "archive-get", seg, got)
	if a, b := readFile(t, got), readFile(t, c.walPath(seg)); !bytes.Equal(a, b) {
		t.Fatalf("segment %s of the upgraded server differs in generation 2's archive", seg)
	}
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(31, 40)")
	// An incremental has no parent of this system: it becomes a full one.
	var nb struct {
		Label string `json:"label"`
		Type  string `json:"type"`
	}
	if err := json.Unmarshal([]byte(c.backup(t, "incr", "--output", "json").stdout), &nb); err != nil || nb.Type != "full" {
		t.Fatalf("first backup after the upgrade: %+v %v", nb, err)
	}
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(41, 50)")
	c.switchAndWait(t)

	var info upgradeInfo
	if err := json.Unmarshal([]byte(c.must(t, "info", "--output", "json").stdout), &info); err != nil {
		t.Fatal(err)
	}
	ci := info.Clusters[0]
	if ci.Generation != 2 || ci.SystemID != newSys || len(ci.Earlier) != 1 || ci.Earlier[0].SystemID != oldSys ||
		len(ci.Earlier[0].RecoveryWindows) == 0 || len(ci.RecoveryWindows) == 0 || len(ci.Backups) != 2 {
		t.Fatalf("info after the upgrade: %+v", ci)
	}
	for _, b := range ci.Backups {
		if !b.Window.Restorable {
			t.Errorf("backup %s (system %s) is not restorable", b.Label, b.SystemID)
		}
	}
	if text := c.must(t, "info").stdout; !strings.Contains(text, "before an upgrade: generation 1, system identifier "+oldSys) {
		t.Fatalf("info text:\n%s", text)
	}
	c.must(t, "verify")

	// The backup from before the upgrade, recovered with its own WAL
	// (archive-get picks the generation by the restored pg_control).
	old := c.restoreAndStart(t, "--target-time", target.UTC().Format(time.RFC3339Nano))
	if got := old.QueryString(t, "SELECT system_identifier::text FROM pg_control_system()"); got != oldSys {
		t.Fatalf("restored to %s: system %s, want the old %s", target, got, oldSys)
	}
	if err := isPrefix(ids(t, old), 20); err != nil {
		t.Fatalf("PITR into the generation before the upgrade: %v", err)
	}
	old.Stop(t)
	// The newest backup, to the end of the upgraded server's WAL.
	cur := c.restoreAndStart(t)
	if err := isPrefix(ids(t, cur), 50); err != nil {
		t.Fatalf("restore after the upgrade: %v", err)
	}
	cur.Stop(t)

	r = c.must(t, "expire", "--retention-full", "1")
	if !strings.Contains(r.stdout, "expired backup "+oldBackup) || !strings.Contains(r.stdout, "WAL of generation 1") {
		t.Fatalf("expire: %s", r)
	}
	c.must(t, "verify")
	info = upgradeInfo{}
	if err := json.Unmarshal([]byte(c.must(t, "info", "--output", "json").stdout), &info); err != nil {
		t.Fatal(err)
	}
	if e := info.Clusters[0].Earlier; len(e) != 1 || e[0].WAL.Objects != 0 || len(e[0].RecoveryWindows) != 0 {
		t.Fatalf("generation 1 after its last backup expired: %+v", e)
	}
	if got := backupLabels(t, c); len(got) != 1 || got[0] != nb.Label {
		t.Fatalf("backups after expire: %v", got)
	}
}

// backupLabel is the label in the output of `backup --output json`.
func backupLabel(t *testing.T, r result) string {
	t.Helper()
	var m struct {
		Label string `json:"label"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil || m.Label == "" {
		t.Fatalf("backup output: %v: %s", err, r)
	}
	return m.Label
}

// The repository server streams across a pg_upgrade: it refuses the
// upgraded server until `create --upgrade`, then streams its WAL into the
// new generation without a restart, after archiving what its spool held of
// the old one. Both generations restore from streamed WAL alone.
func TestServerFollowsUpgrade(t *testing.T) {
	etcd := harness.StartEtcd(t)
	c := streamingCluster(t, posixRepo(t), nil)
	putLeader(t, etcd, "pg-a", c.pg.Port)
	s := startServer(t, c, "upgrade", etcdYAML(etcd)+"server:\n  partial-interval: 1s\n")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", tailFile(s.log, 60))
		}
	})
	waitReceiver(t, c.pg, 20*time.Second, "the receiver to stream from pg-a")
	oldBackup := backupLabel(t, c.backup(t, "full", "--output", "json"))
	c.pg.Exec(t, "CREATE TABLE marks (id int PRIMARY KEY)")
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(1, 100)")
	s.waitArchived(t, c, 30*time.Second)
	c.pg.Stop(t)

	c.pg = harness.Upgrade(t, c.pg, harness.PGOptions{Conf: map[string]string{"wal_keep_size": "'1GB'"}, Env: c.env})
	putLeader(t, etcd, "pg-b", c.pg.Port)
	harness.Wait(t, 30*time.Second, "the server to refuse the upgraded server", func() (bool, error) {
		return strings.Contains(tailFile(s.log, 200), "create --upgrade"), nil
	})
	c.must(t, "create", "--upgrade", "--pg-host", c.pg.Host, "--pg-port", strconv.Itoa(c.pg.Port))
	waitReceiver(t, c.pg, 60*time.Second, "the receiver to stream from the upgraded server")
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(101, 200)")
	c.backup(t, "full")
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(201, 300)")
	c.pg.Exec(t, "SELECT pg_create_restore_point('after_upgrade')")
	c.pg.Exec(t, "INSERT INTO marks SELECT generate_series(301, 400)")
	c.pg.Exec(t, "SELECT pg_switch_wal()")
	s.waitArchived(t, c, 30*time.Second)
	if _, err := os.Stat(filepath.Join(c.repo.path, "e2e", "wal-2")); err != nil {
		t.Fatalf("no WAL in generation 2's archive: %v\n%s", err, s.logTail())
	}
	if !strings.Contains(tailFile(s.log, 200), "archived the spool's WAL from before the upgrade") {
		t.Fatalf("the spool of generation 1 was not drained into its archive")
	}

	cur := c.restoreAndStart(t, "--target-name", "after_upgrade")
	if err := isPrefix(ids(t, cur), 300); err != nil {
		t.Fatalf("restore after the upgrade from streamed WAL: %v", err)
	}
	cur.Stop(t)
	old := c.restoreAndStart(t, "--set", oldBackup)
	if err := isPrefix(ids(t, old), 100); err != nil {
		t.Fatalf("restore of the backup before the upgrade from streamed WAL: %v", err)
	}
	old.Stop(t)
	c.must(t, "verify")

	// The stream follows a later move of the leader key on the upgraded
	// system, though the server started before the upgrade (the old
	// primary stays up here, so only the key says to move).
	standby := harness.StartStandby(t, c.pg, map[string]string{"wal_keep_size": "'1GB'"})
	standby.Exec(t, "SELECT pg_promote()")
	harness.Wait(t, 20*time.Second, "the promotion", func() (bool, error) {
		v, err := standby.TryQueryString(t.Context(), "SELECT pg_is_in_recovery()")
		return v == "false" || v == "f", err
	})
	putLeader(t, etcd, "pg-c", standby.Port)
	harness.Wait(t, 20*time.Second, "the stream to follow the leader key to pg-c", func() (bool, error) {
		st, err := s.status(t)
		return err == nil && st.Leader != nil && st.Leader.Member == "pg-c" && st.Stream != nil && st.Stream.Timeline == 2, nil
	})
	s.stop(t)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
