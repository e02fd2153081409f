package pg_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/test/harness"
)

var waldumpXact = regexp.MustCompile(`desc: (?:COMMIT|ABORT)(?:_PREPARED)? (?:\d+: )?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) UTC`)

// LastXactTime finds what pg_waldump, PostgreSQL's own WAL reader, finds
// in each segment of a real server's pg_wal on its own: the time of the
// last commit or abort, or none (a segment holding no transaction end, or
// a recycled file of old WAL). The WAL has records across page and segment
// boundaries (full-page images of a large table, a big multi-insert
// commit), aborts, prepared transactions and WAL switches.
func TestLastXactTimeAgreesWithWaldump(t *testing.T) {
	p := harness.StartPostgres(t, harness.PGOptions{Conf: map[string]string{
		"max_prepared_transactions": "4", "wal_keep_size": "'1GB'"}})
	p.Exec(t, "CREATE TABLE big (id int, pad text)")
	for round := range 3 {
		p.Exec(t, "INSERT INTO big SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 30000) g")
		p.Exec(t, "CHECKPOINT")
		p.Exec(t, "UPDATE big SET id = id + 1 WHERE id % 7 = 0") // full-page images
		p.Exec(t, "BEGIN; INSERT INTO big VALUES (-1, 'x'); ROLLBACK")
		p.Exec(t, "BEGIN; INSERT INTO big VALUES (-2, 'y'); PREPARE TRANSACTION 'p'")
		if round%2 == 0 {
			p.Exec(t, "COMMIT PREPARED 'p'")
		} else {
			p.Exec(t, "ROLLBACK PREPARED 'p'")
		}
		p.Exec(t, "SELECT pg_switch_wal()")
	}
	p.Exec(t, "INSERT INTO big SELECT g, 'tail' FROM generate_series(1, 1000) g") // the current segment

	segSize := int64(16 << 20)
	entries, err := os.ReadDir(filepath.Join(p.DataDir, "pg_wal"))
	if err != nil {
		t.Fatal(err)
	}
	var found, none int
	for _, e := range entries {
		w, err := pg.ParseWALName(e.Name())
		if err != nil || w.Kind != pg.KindSegment {
			continue
		}
		b, err := os.ReadFile(filepath.Join(p.DataDir, "pg_wal", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := pg.LastXactTime(b, w.StartLSN(segSize), 0)

		// pg_waldump on the segment alone, so that it too stops at a
		// record that continues into the next one.
		alone := t.TempDir()
		if err := os.WriteFile(filepath.Join(alone, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(harness.PGBin("pg_waldump"), filepath.Join(alone, e.Name()))
		cmd.Env = append(os.Environ(), "TZ=UTC", "PGTZ=UTC")
		out, _ := cmd.CombinedOutput() // it exits non-zero at the end of valid WAL
		var want time.Time
		wantOK := false
		for _, m := range waldumpXact.FindAllSubmatch(out, -1) {
			if want, err = time.Parse("2006-01-02 15:04:05.999999", string(m[1])); err != nil {
				t.Fatal(err)
			}
			wantOK = true
		}
		if ok != wantOK || !got.Equal(want) {
			t.Errorf("%s: LastXactTime %v (%v); pg_waldump %v (%v)", e.Name(), got, ok, want, wantOK)
		}
		if ok {
			found++
		} else {
			none++
		}
	}
	if found < 4 || none < 1 {
		t.Fatalf("%d segments with a transaction end, %d without: want at least 4 and 1", found, none)
	}
	t.Logf("%d segments with a transaction end, %d without", found, none)
}

// A limit inside the segment leaves out the records that end after it.
func TestLastXactTimeLimit(t *testing.T) {
	p := harness.StartPostgres(t, harness.PGOptions{})
	p.Exec(t, "CREATE TABLE m (id int)")
	p.Exec(t, "INSERT INTO m VALUES (1)")
	first := p.QueryString(t, "SELECT pg_current_wal_insert_lsn()")
	time.Sleep(10 * time.Millisecond)
	p.Exec(t, "INSERT INTO m VALUES (2)")
	seg := p.QueryString(t, "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
	p.Exec(t, "CHECKPOINT") // the WAL is on disk
	b, err := os.ReadFile(filepath.Join(p.DataDir, "pg_wal", seg))
	if err != nil {
		t.Fatal(err)
	}
	w, _ := pg.ParseWALName(seg)
	limit, err := pg.ParseLSN(first)
	if err != nil {
		t.Fatal(err)
	}
	all, ok1 := pg.LastXactTime(b, w.StartLSN(16<<20), 0)
	upTo, ok2 := pg.LastXactTime(b, w.StartLSN(16<<20), limit)
	if !ok1 || !ok2 || !upTo.Before(all) {
		t.Fatalf("last commit %v (%v), up to %s %v (%v): want the first insert's commit, before the second's", all, ok1, first, upTo, ok2)
	}
}
