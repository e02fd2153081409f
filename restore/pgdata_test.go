package restore

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakePostmaster starts a process whose command line says postgres.
func fakePostmaster(t *testing.T) int {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep program")
	}
	cmd := &exec.Cmd{Path: sleep, Args: []string{"postgres", "60"}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

func writePID(t *testing.T, dir string, pid int) {
	t.Helper()
	content := fmt.Sprintf("%d\n%s\n1700000000\n5432\n", pid, dir)
	if err := os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreRefusesRunningPostmaster(t *testing.T) {
	f := newFixture(t, nil)
	f.backup(t, testLabel, testFiles(), nil)
	dir := t.TempDir()
	writePID(t, dir, fakePostmaster(t))
	for _, opts := range []Options{{PGData: dir, Delta: true}, {PGData: dir, Force: true}} {
		_, err := f.restore(t, opts)
		if !errors.Is(err, ErrRunning) || !strings.Contains(err.Error(), "PostgreSQL is running in "+dir) {
			t.Fatalf("%+v: %v", opts, err)
		}
		if got := listDir(t, dir); len(got) != 2 {
			t.Fatalf("restore wrote next to a running postmaster: %v", got)
		}
	}
}

func TestRestoreRemovesStalePostmasterPID(t *testing.T) {
	f := newFixture(t, nil)
	f.backup(t, testLabel, testFiles(), nil)
	dir := t.TempDir()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true program")
	}
	writePID(t, dir, cmd.Process.Pid) // exited and reaped
	if _, err := f.restore(t, Options{PGData: dir, Delta: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("stale postmaster.pid kept: %v", err)
	}
}

func TestRestoreMakesDataDirPrivate(t *testing.T) {
	f := newFixture(t, nil)
	f.backup(t, testLabel, testFiles(), nil)
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := f.restore(t, Options{PGData: dir}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
}
