package restore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/repo"
)

func TestRestoreDelta(t *testing.T) {
	// Parts record an XXH3 that delta compares; parts of backups of earlier
	// versions (old) have only their SHA-256 digest, which is an HMAC when
	// encrypted: delta must then hash with the repository's key.
	for _, c := range []struct{ enc, old bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		enc := c.enc
		var pass []byte
		if enc {
			pass = []byte("secret")
		}
		f := newFixture(t, pass)
		files := testFiles()
		m := f.backup(t, testLabel, files, func(m *repo.Manifest) {
			for i := range m.Files {
				for j := range m.Files[i].Parts {
					if c.old { // as an earlier version wrote it
						m.Files[i].Parts[j].Quick = repo.QuickSum{}
					}
				}
			}
		})
		for _, fl := range m.Files {
			for _, p := range fl.Parts {
				if p.Quick.IsZero() != c.old {
					t.Fatalf("%+v: part of %s has xxh3 %s", c, fl.Path, p.Quick)
				}
			}
		}
		dir := t.TempDir()
		if _, err := f.restore(t, Options{PGData: dir}); err != nil {
			t.Fatal(err)
		}
		// One part of a file changed, another file shortened, strays added.
		write := func(rel, content string) {
			t.Helper()
			p := filepath.Join(dir, rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		changed := []byte(files["base/1/1259"])
		changed[1500] ^= 1
		write("base/1/1259", string(changed))
		write("base/1/1249", "short")
		write("base/1/99999", "stray")
		write("pg_stray/x/y", "stray")
		write("pg_wal/000000010000000000000009", "old WAL")

		res, err := f.restore(t, Options{PGData: dir, Delta: true})
		if err != nil {
			t.Fatal(err)
		}
		checkFiles(t, dir, files)
		// Rewritten: the changed part of 1259 and all of 1249. Removed: 99999,
		// pg_stray and the WAL file; recovery.signal and the recovery
		// settings in postgresql.auto.conf are already right.
		wantBytes := int64(testPartSize + 1500)
		if res.Files != len(files) || res.Rewritten != 2 || res.RewrittenBytes != wantBytes ||
			res.Kept != len(files)-2 || res.Removed != 3 {
			t.Fatalf("%+v: %+v; want 2 rewritten (%d bytes), %d kept, 3 removed", c, res.Stats, wantBytes, len(files)-2)
		}
		for _, gone := range []string{"base/1/99999", "pg_stray", "pg_wal/000000010000000000000009"} {
			if _, err := os.Lstat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
				t.Fatalf("%s survived the delta restore: %v", gone, err)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "recovery.signal")); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(res.Summary(), "(delta: 2 rewritten") {
			t.Fatalf("summary %q", res.Summary())
		}
		// Nothing changed: nothing is rewritten. A new target changes only
		// postgresql.auto.conf.
		res, err = f.restore(t, Options{PGData: dir, Delta: true})
		if err != nil || res.Rewritten != 0 || res.Removed != 0 || res.Kept != len(files) {
			t.Fatalf("second delta: %+v %v", res, err)
		}
		res, err = f.restore(t, Options{PGData: dir, Delta: true, Target: mustTarget(t, TargetSpec{Immediate: true})})
		if err != nil || res.Rewritten != 1 || res.Removed != 0 {
			t.Fatalf("second delta: %+v %v", res, err)
		}
	}
}

func TestRestoreDeltaReplacesWrongTypes(t *testing.T) {
	f := newFixture(t, nil)
	files := testFiles()
	f.backup(t, testLabel, files, nil)
	dir := t.TempDir()
	// A directory where a file belongs, a file where a directory belongs, a
	// dangling link where a file belongs.
	for _, d := range []string{"base/1/1259/sub", "global"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "pg_wal"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nonexistent", filepath.Join(dir, "PG_VERSION")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.restore(t, Options{PGData: dir, Delta: true}); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, files)
	if fi, err := os.Lstat(filepath.Join(dir, "pg_wal")); err != nil || !fi.IsDir() {
		t.Fatalf("pg_wal: %v", err)
	}
}
