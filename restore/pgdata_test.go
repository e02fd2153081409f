package restore

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakePostmaster starts a process whose command line says postgres: this
// test binary again, running only TestHelperPostmaster, under argv[0]
// "postgres". (A system sleep under another argv[0] is not portable: a
// multi-call binary such as busybox picks its applet by argv[0] and exits.)
func fakePostmaster(t *testing.T) int {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := &exec.Cmd{
		Path: self,
		Args: []string{"postgres", "-test.run=^TestHelperPostmaster$"},
		Env:  append(os.Environ(), "PGKEEP_HELPER_POSTMASTER=1"),
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// Start returns once the kernel has released the parent from the exec,
	// a moment before the new program's command line is in place: until
	// then /proc shows an empty one, and no postgres. Wait for it.
	cmdline := fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(cmdline)
		if err != nil || strings.HasPrefix(string(b), "postgres\x00") {
			break // no /proc (not Linux): nothing to wait for
		}
		if time.Now().After(deadline) {
			t.Fatalf("fake postmaster %d: command line %q", cmd.Process.Pid, b)
		}
	}
	return cmd.Process.Pid
}

// TestHelperPostmaster is the body of fakePostmaster's process; it does
// nothing in a normal test run.
func TestHelperPostmaster(t *testing.T) {
	if os.Getenv("PGKEEP_HELPER_POSTMASTER") != "1" {
		return
	}
	time.Sleep(time.Minute)
	os.Exit(0)
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
	pid := fakePostmaster(t)
	writePID(t, dir, pid)
	for _, opts := range []Options{{PGData: dir, Delta: true}, {PGData: dir, Force: true}} {
		_, err := f.restore(t, opts)
		if !errors.Is(err, ErrRunning) || !strings.Contains(err.Error(), "PostgreSQL is running in "+dir) {
			stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			t.Fatalf("restore next to pid %d (stat %q, cmdline %q): %v", pid, stat, cmdline, err)
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
