package harness

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// pgOSUser is the OS user PostgreSQL programs run as when the tests run as root.
const pgOSUser = "postgres"

// osUser is a looked-up OS account.
type osUser struct {
	uid, gid uint32
	groups   []uint32
}

var pgUserOnce = sync.OnceValues(lookupPGUser)

// lookupPGUser resolves the PostgreSQL OS user and its groups.
func lookupPGUser() (osUser, error) {
	u, err := user.Lookup(pgOSUser)
	if err != nil {
		return osUser{}, fmt.Errorf("look up OS user %q: %w", pgOSUser, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return osUser{}, fmt.Errorf("parse uid %q of %q: %w", u.Uid, pgOSUser, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return osUser{}, fmt.Errorf("parse gid %q of %q: %w", u.Gid, pgOSUser, err)
	}
	ou := osUser{uid: uint32(uid), gid: uint32(gid)}
	gids, _ := u.GroupIds() // supplementary groups are a nicety
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			ou.groups = append(ou.groups, uint32(n))
		}
	}
	return ou, nil
}

// canTraverse reports whether u may search the directory described by st.
func (u osUser) canTraverse(st *syscall.Stat_t) bool {
	switch {
	case st.Uid == u.uid:
		return st.Mode&0o100 != 0
	case st.Gid == u.gid || slices.Contains(u.groups, st.Gid):
		return st.Mode&0o010 != 0
	default:
		return st.Mode&0o001 != 0
	}
}

// asRoot reports whether PostgreSQL programs must switch to [pgOSUser].
func asRoot() bool { return os.Geteuid() == 0 }

// requirePGUser skips or fails the test when running as root without the
// PostgreSQL OS user, and returns that user otherwise.
func requirePGUser(t testing.TB) osUser {
	t.Helper()
	u, err := pgUserOnce()
	if err != nil {
		Require(t, fmt.Sprintf("OS user %q (needed to run PostgreSQL as root: %v)", pgOSUser, err),
			"apt-get install postgresql-15 (creates the user), or run the tests as a non-root user")
	}
	return u
}

// PGBin returns the path of the PostgreSQL 15 program name, from
// $PGKEEP_TEST_PGBIN or /usr/lib/postgresql/15/bin.
func PGBin(name string) string {
	dir := os.Getenv("PGKEEP_TEST_PGBIN")
	if dir == "" {
		dir = "/usr/lib/postgresql/15/bin"
	}
	return filepath.Join(dir, name)
}

// requirePGBin skips or fails the test when the PostgreSQL programs are missing.
func requirePGBin(t testing.TB) {
	t.Helper()
	for _, prog := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(PGBin(prog)); err != nil {
			Require(t, fmt.Sprintf("PostgreSQL 15 program %s", PGBin(prog)),
				"apt-get install postgresql-15, or set PGKEEP_TEST_PGBIN to its bin directory")
		}
	}
}

// PGCommand returns a command like exec.CommandContext. When the process runs
// as root, the command runs as the OS user "postgres", in os.TempDir() (the
// test's working directory is usually not reachable by that user), with
// HOME=os.TempDir(). If that user cannot be looked up, the command's Start
// returns the lookup error.
func PGCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	if !asRoot() {
		return cmd
	}
	u, err := pgUserOnce()
	if err != nil {
		cmd.Err = fmt.Errorf("run %s as %q: %w", name, pgOSUser, err)
		return cmd
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups},
	}
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+os.TempDir())
	return cmd
}

// Dir returns a fresh directory under os.TempDir() with mode 0755 that the
// PostgreSQL OS user can read and write (it owns it when running as root).
// It is removed, with everything in it, at cleanup. Put every data directory,
// archive, restored copy or socket a PostgreSQL program uses under it.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgkeep-test-")
	if err != nil {
		t.Fatalf("harness: create test directory: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("harness: remove test directory: %v", err)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("harness: chmod %s: %v", dir, err)
	}
	Chown(t, dir)
	return dir
}

// Chown gives path, and everything below it when it is a directory, to the
// PostgreSQL OS user when running as root. It does nothing otherwise.
func Chown(t testing.TB, path string) {
	t.Helper()
	if !asRoot() {
		return
	}
	u := requirePGUser(t)
	err := filepath.WalkDir(path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(u.uid), int(u.gid))
	})
	if err != nil {
		t.Fatalf("harness: chown %s to %s: %v", path, pgOSUser, err)
	}
}

// checkReachable returns an error when running as root and the PostgreSQL OS
// user cannot traverse some parent directory of path.
func checkReachable(path string) error {
	if !asRoot() {
		return nil
	}
	u, err := pgUserOnce()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("absolute path of %s: %w", path, err)
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("stat %s: %w", dir, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || !u.canTraverse(st) {
			return fmt.Errorf("%s is not reachable by OS user %q: %s has mode %s (use harness.Dir)",
				path, pgOSUser, dir, fi.Mode().Perm())
		}
		if dir == filepath.Dir(dir) {
			return nil
		}
	}
}
