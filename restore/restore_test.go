package restore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/repo"
)

func TestRestoreFull(t *testing.T) {
	f := newFixture(t, nil)
	files := testFiles()
	f.backup(t, testLabel, files, nil)
	dir := filepath.Join(t.TempDir(), "a", "pgdata")
	target := mustTarget(t, TargetSpec{Immediate: true})
	res, err := f.restore(t, Options{PGData: dir, Target: target})
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, files)
	if res.Files != len(files) || res.Rewritten != len(files) || res.Label != testLabel || res.Signal != "recovery.signal" {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(res.Summary(), "restored backup "+testLabel+" (full) into "+dir+": 8 files") {
		t.Fatalf("summary %q", res.Summary())
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data directory: %v %v", fi.Mode(), err)
	}
	for _, d := range []string{"pg_wal/archive_status", "pg_tblspc"} {
		if fi, err := os.Stat(filepath.Join(dir, d)); err != nil || !fi.IsDir() {
			t.Fatalf("%s: %v", d, err)
		}
	}
	fi, err = os.Stat(filepath.Join(dir, "base/1/1259"))
	if err != nil || fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("base/1/1259: %v %v %v", fi.Mode(), fi.ModTime(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "recovery.signal")); err != nil {
		t.Fatal(err)
	}
	conf, _ := os.ReadFile(filepath.Join(dir, "postgresql.auto.conf"))
	for _, want := range []string{
		"# removed by pgkeep restore: restore_command = 'cp /old/%f %p'\nwork_mem = '8MB'\n" + blockBegin,
		"restore_command = 'pgkeep archive-get %f \"%p\"'\nrecovery_target = 'immediate'\n" +
			"recovery_target_action = 'promote'\nrecovery_target_timeline = 'latest'\n" + blockEnd + "\n",
	} {
		if !strings.Contains(string(conf), want) {
			t.Fatalf("postgresql.auto.conf:\n%s\nwant:\n%s", conf, want)
		}
	}
}

func TestRestoreRefusesNonEmpty(t *testing.T) {
	f := newFixture(t, nil)
	f.backup(t, testLabel, testFiles(), nil)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "junk"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := f.restore(t, Options{PGData: dir})
	if err == nil || !strings.Contains(err.Error(), "data directory "+dir+" is not empty") {
		t.Fatalf("%v", err)
	}
	if got := listDir(t, dir); len(got) != 2 || got[1] != "junk" {
		t.Fatalf("restore wrote into a refused directory: %v", got)
	}
	// --force wipes it.
	if _, err := f.restore(t, Options{PGData: dir, Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "junk")); !os.IsNotExist(err) {
		t.Fatalf("junk survived --force: %v", err)
	}
	checkFiles(t, dir, testFiles())
}

func TestRestoreRefusesPlanProblemsBeforeWriting(t *testing.T) {
	f := newFixture(t, nil)
	f.backup(t, testLabel, testFiles(), nil)
	dir := filepath.Join(t.TempDir(), "pgdata")
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{PGData: dir, Set: "20261122-110000F"}, "backup 20261122-110000F not found; backups: " + testLabel},
		{Options{PGData: dir, Target: mustTarget(t, TargetSpec{Time: "2026-11-22 09:00:00+00"})},
			"target time 2026-11-22 09:00:00+00 is outside the recovery window: " + testLabel + ": "},
		{Options{PGData: dir, TablespaceMap: map[uint32]string{16385: "/x"}}, "--tablespace-map 16385: backup " + testLabel + " has no tablespace 16385"},
		{Options{PGData: dir, Delta: true, Force: true}, "--delta and --force exclude each other"},
		{Options{PGData: dir, Type: TypeStandby, Target: mustTarget(t, TargetSpec{Name: "x"})}, "--type standby follows the archive"},
	} {
		if _, err := f.restore(t, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.opts, err, tc.want)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("%+v: the data directory was created", tc.opts)
		}
	}
}

func TestRestoreChecksumFailure(t *testing.T) {
	for _, delta := range []bool{false, true} {
		f := newFixture(t, nil)
		m := f.backup(t, testLabel, testFiles(), nil)
		dir := t.TempDir()
		if delta {
			if _, err := f.restore(t, Options{PGData: dir}); err != nil {
				t.Fatal(err)
			}
			// A changed part must be fetched, and its object is damaged.
			if err := os.WriteFile(filepath.Join(dir, "base/1/1259"), []byte(strings.Repeat("x", 3500)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		f.flip(t, m, "base/1/1259", 2000)
		_, err := f.restore(t, Options{PGData: dir, Delta: delta})
		if err == nil || !strings.Contains(err.Error(), "restore base/1/1259: checksum verification failed") || !repo.IsCorrupt(err) {
			t.Fatalf("delta %v: %v", delta, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "global/pg_control")); !os.IsNotExist(err) {
			t.Fatalf("delta %v: pg_control exists after a failed restore: %v", delta, err)
		}
	}
}

func TestRestoreStandbyAndConfigFiles(t *testing.T) {
	f := newFixture(t, nil)
	src := t.TempDir() // stands for /etc/postgresql/15/main on the source host
	f.backup(t, testLabel, testFiles(), func(m *repo.Manifest) {
		bw := f.r.NewBundleWriter(t.Context(), "main", testLabel, 1)
		m.ConfigFiles = addFiles(t, bw, map[string]string{
			filepath.Join(src, "postgresql.conf"): "shared_buffers = '1GB'\n",
			filepath.Join(src, "pg_hba.conf"):     "local all all peer\n",
		}, testPartSize)
		if err := bw.Close(); err != nil {
			t.Fatal(err)
		}
	})
	dir, confDir := t.TempDir(), t.TempDir()
	res, err := f.restore(t, Options{PGData: dir, Type: TypeStandby, RestoreConfig: true, ConfigDir: confDir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Signal != "standby.signal" || len(res.ConfigFiles) != 2 {
		t.Fatalf("%+v", res)
	}
	if got, _ := os.ReadFile(filepath.Join(confDir, "postgresql.conf")); string(got) != "shared_buffers = '1GB'\n" {
		t.Fatalf("postgresql.conf: %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "recovery.signal")); !os.IsNotExist(err) {
		t.Fatal("recovery.signal written for a standby")
	}
	conf, _ := os.ReadFile(filepath.Join(dir, "postgresql.auto.conf"))
	if strings.Contains(string(conf), "recovery_target_action") {
		t.Fatalf("standby with a target action:\n%s", conf)
	}
	// Without a directory the files go back where they came from.
	if _, err := f.restore(t, Options{PGData: dir, Delta: true, RestoreConfig: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(src, "pg_hba.conf")); string(got) != "local all all peer\n" {
		t.Fatalf("pg_hba.conf: %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "standby.signal")); !os.IsNotExist(err) {
		t.Fatal("standby.signal left behind by a default restore")
	}
}

func TestRestoreTablespaces(t *testing.T) {
	f := newFixture(t, nil)
	orig, moved := filepath.Join(t.TempDir(), "ts"), filepath.Join(t.TempDir(), "ts-moved")
	files := testFiles()
	files["pg_tblspc/16385/PG_15_202209061/1/16386"] = strings.Repeat("t", 2100)
	files["tablespace_map"] = "16385 " + orig + "\n"
	f.backup(t, testLabel, files, func(m *repo.Manifest) {
		m.Tablespaces = []repo.Tablespace{{OID: 16385, Location: orig}}
		m.Dirs = append(m.Dirs, repo.Dir{Path: "pg_tblspc/16385", Mode: 0o777},
			repo.Dir{Path: "pg_tblspc/16385/PG_15_202209061", Mode: 0o700},
			repo.Dir{Path: "pg_tblspc/16385/PG_15_202209061/1", Mode: 0o700})
	})
	dir := t.TempDir()
	if err := os.MkdirAll(moved, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(moved, "junk"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	remap := map[uint32]string{16385: moved}
	_, err := f.restore(t, Options{PGData: dir, TablespaceMap: remap})
	if err == nil || !strings.Contains(err.Error(), "tablespace 16385 directory "+moved+" is not empty") {
		t.Fatalf("non-empty tablespace directory: %v", err)
	}
	if _, err := f.restore(t, Options{PGData: dir, TablespaceMap: remap, Delta: true}); err != nil {
		t.Fatal(err)
	}
	link, err := os.Readlink(filepath.Join(dir, "pg_tblspc/16385"))
	if err != nil || link != moved {
		t.Fatalf("link %q %v", link, err)
	}
	if got, _ := os.ReadFile(filepath.Join(moved, "PG_15_202209061/1/16386")); len(got) != 2100 {
		t.Fatalf("tablespace file: %d bytes", len(got))
	}
	if _, err := os.Stat(filepath.Join(moved, "junk")); !os.IsNotExist(err) {
		t.Fatal("delta left a file the backup does not have in the tablespace")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "tablespace_map")); string(got) != "16385 "+moved+"\n" {
		t.Fatalf("tablespace_map %q", got)
	}
	if _, err := os.Stat(orig); !os.IsNotExist(err) {
		t.Fatal("the original location was created despite the remap")
	}
}
