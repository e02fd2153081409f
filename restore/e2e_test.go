package restore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/restore"
	"github.com/pgkeep/pgkeep/test/harness"
)

// source is a PostgreSQL server archiving with pgkeep into a posix repository.
type source struct {
	pg     *harness.Postgres
	bin    string // the pgkeep binary
	config string
}

// buildPgkeep builds the binary into dir, which the PostgreSQL user can read.
func buildPgkeep(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "pgkeep")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/pgkeep/pgkeep/cmd/pgkeep").CombinedOutput()
	if err != nil {
		t.Fatalf("build pgkeep: %v\n%s", err, out)
	}
	return bin
}

func startSource(t *testing.T) *source {
	t.Helper()
	dir := harness.Dir(t)
	s := &source{bin: buildPgkeep(t, dir), config: filepath.Join(dir, "pgkeep.yaml")}
	yaml := fmt.Sprintf("cluster: rt\nlog-level: warn\nrepo:\n  type: posix\n  path: %s\n", filepath.Join(dir, "repo"))
	if err := os.WriteFile(s.config, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	s.pg = harness.StartPostgres(t, harness.PGOptions{Conf: map[string]string{
		"archive_mode":    "on",
		"archive_command": fmt.Sprintf("'%s --config %s archive-push %%p'", s.bin, s.config),
	}})
	s.run(t, "create", "--pg-host", s.pg.Host, "--pg-port", fmt.Sprint(s.pg.Port))
	return s
}

// run runs pgkeep as the PostgreSQL OS user and returns its stdout.
func (s *source) run(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := harness.PGCommand(ctx, s.bin, append([]string{"--config", s.config}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("pgkeep %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// archive switches WAL and waits until the finished segment is archived.
func (s *source) archive(t *testing.T) {
	t.Helper()
	seg := s.pg.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())")
	harness.Wait(t, 2*time.Minute, "archiver to archive "+seg, func() (bool, error) {
		last, err := s.pg.TryQueryString(context.Background(), "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
		return last >= seg, err
	})
}

// restoreJSON runs pgkeep restore --output json and decodes its result.
func (s *source) restoreJSON(t *testing.T, args ...string) restore.Result {
	t.Helper()
	var res restore.Result
	out := s.run(t, append([]string{"restore", "--output", "json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("restore output %q: %v", out, err)
	}
	return res
}

// startCopy starts a restored data directory and waits until recovery ended.
func startCopy(t *testing.T, dir string) *harness.Postgres {
	t.Helper()
	p := harness.StartPostgres(t, harness.PGOptions{NoInitdb: true, DataDir: dir, Conf: map[string]string{"archive_mode": "off"}})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		v, err := p.TryQueryString(t.Context(), "SELECT pg_is_in_recovery()")
		if err == nil && v == "f" { // text form of a boolean
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restored server did not finish recovery (%v, %v); log:\n%s", v, err, p.LogTail(40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A real backup of a server with a tablespace, restored with the
// tablespace moved: the copy recovers to the end of the archive and has
// every row; a delta restore over a copy with one damaged file rewrites
// only that file (and the recovery settings) and starts again.
func TestRestoreRealBackup(t *testing.T) {
	s := startSource(t)
	tsDir := harness.Dir(t)
	s.pg.Exec(t, fmt.Sprintf("CREATE TABLESPACE ts LOCATION '%s'", tsDir))
	s.pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY, pad text); CREATE TABLE b (id int) TABLESPACE ts")
	s.pg.Exec(t, "INSERT INTO a SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g; INSERT INTO b SELECT generate_series(1, 1000)")
	s.run(t, "backup", "--type", "full", "--pg-host", s.pg.Host, "--pg-port", fmt.Sprint(s.pg.Port))
	s.pg.Exec(t, "INSERT INTO a SELECT g, 'after' FROM generate_series(20001, 20500) g; INSERT INTO b VALUES (1001)")
	s.archive(t)
	oid := s.pg.QueryString(t, "SELECT oid FROM pg_tablespace WHERE spcname = 'ts'")
	relpath := s.pg.QueryString(t, "SELECT pg_relation_filepath('a')")

	dir, moved := filepath.Join(harness.Dir(t), "data"), filepath.Join(harness.Dir(t), "ts")
	res := s.restoreJSON(t, "--pgdata", dir, "--tablespace-map", oid+"="+moved)
	if res.Files == 0 || res.Rewritten != res.Files || res.Signal != "recovery.signal" {
		t.Fatalf("restore: %+v", res)
	}
	if link, err := os.Readlink(filepath.Join(dir, "pg_tblspc", oid)); err != nil || link != moved {
		t.Fatalf("tablespace link %q, %v", link, err)
	}
	cp := startCopy(t, dir)
	if got := cp.QueryString(t, "SELECT count(*) || '/' || (SELECT count(*) FROM b) FROM a"); got != "20500/1001" {
		t.Fatalf("restored rows %s, want 20500/1001", got)
	}
	cp.Stop(t)

	// A second copy, not started: damage one relation file, restore --delta.
	dir2, moved2 := filepath.Join(harness.Dir(t), "data"), filepath.Join(harness.Dir(t), "ts")
	s.restoreJSON(t, "--pgdata", dir2, "--tablespace-map", oid+"="+moved2)
	f, err := os.OpenFile(filepath.Join(dir2, relpath), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("damage"), 8192+100); err != nil {
		t.Fatal(err)
	}
	f.Close()
	res = s.restoreJSON(t, "--pgdata", dir2, "--delta", "--tablespace-map", oid+"="+moved2)
	// Only the part of the damaged file is fetched again; the recovery
	// settings, the signal file and the remapped tablespace_map are right.
	if res.Rewritten != 1 || res.Kept != res.Files-1 || res.Removed != 0 || res.RewrittenBytes > 16<<20 {
		t.Fatalf("delta restore: %+v; want only %s rewritten", res.Stats, relpath)
	}
	cp2 := startCopy(t, dir2)
	if got := cp2.QueryString(t, "SELECT count(*) || '/' || sum(length(pad)) FROM a"); got != "20500/4002500" {
		t.Fatalf("rows after the delta restore: %s", got)
	}
}
