package harness

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// harnessConf is the file, inside the data directory, that holds the settings
// the harness controls. It is rewritten before every start (the port may
// change) and included at the end of postgresql.conf.
const harnessConf = "pgkeep_harness.conf"

const includeLine = "include_if_exists = '" + harnessConf + "'"

// hbaConf replaces pg_hba.conf: trust, and only local sockets and loopback.
const hbaConf = `# Written by the pgkeep test harness.
local all         all              trust
local replication all              trust
host  all         all 127.0.0.1/32 trust
host  replication all 127.0.0.1/32 trust
`

// prepareDataDir readies an existing data directory for the PostgreSQL OS
// user and returns its absolute path.
func prepareDataDir(t testing.TB, dir string) string {
	t.Helper()
	if dir == "" {
		t.Fatalf("harness: PGOptions.NoInitdb needs PGOptions.DataDir")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("harness: data directory %s: %v", dir, err)
	}
	if err := checkReachable(abs); err != nil {
		t.Fatalf("harness: data directory: %v", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		t.Fatalf("harness: data directory: %v", err)
	}
	if fi.Mode().Perm()&0o027 != 0 {
		if err := os.Chmod(abs, 0o700); err != nil {
			t.Fatalf("harness: chmod data directory: %v", err)
		}
	}
	Chown(t, abs)
	return abs
}

// writeConfig writes the harness settings for p.Port, makes postgresql.conf
// include them, and replaces pg_hba.conf.
func (p *Postgres) writeConfig() error {
	var b strings.Builder
	b.WriteString("# Written by the pgkeep test harness before every start.\n")
	fmt.Fprintf(&b, "listen_addresses = '127.0.0.1'\nport = %d\n", p.Port)
	fmt.Fprintf(&b, "unix_socket_directories = %s\n", quoteConf(p.SocketDir))
	b.WriteString("wal_level = replica\nmax_wal_senders = 10\nmax_replication_slots = 10\n")
	// Dynamic shared memory in files of the data directory (pg_dynshmem),
	// which go with the test's directory: posix segments in /dev/shm
	// outlive a server killed with -9 and fill that tmpfs run after run.
	b.WriteString("dynamic_shared_memory_type = mmap\n")
	for _, k := range slices.Sorted(maps.Keys(p.conf)) {
		fmt.Fprintf(&b, "%s = %s\n", k, p.conf[k])
	}
	if err := p.writeDataFile(harnessConf, []byte(b.String())); err != nil {
		return err
	}
	if err := p.writeDataFile("pg_hba.conf", []byte(hbaConf)); err != nil {
		return err
	}
	return p.ensureInclude()
}

// ensureInclude appends the include of harnessConf to postgresql.conf unless
// it is there already (a copy of a harness server's data directory has it).
func (p *Postgres) ensureInclude() error {
	path := filepath.Join(p.DataDir, "postgresql.conf")
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read postgresql.conf: %w", err)
	}
	if bytes.Contains(old, []byte(includeLine)) {
		return nil
	}
	content := append(old, "\n# Added by the pgkeep test harness.\n"+includeLine+"\n"...)
	return p.writeDataFile("postgresql.conf", content)
}

// writeDataFile writes a file in the data directory, owned by the PostgreSQL
// OS user.
func (p *Postgres) writeDataFile(name string, content []byte) error {
	path := filepath.Join(p.DataDir, name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if !asRoot() {
		return nil
	}
	u, err := pgUserOnce()
	if err != nil {
		return err
	}
	if err := os.Chown(path, int(u.uid), int(u.gid)); err != nil {
		return fmt.Errorf("chown %s: %w", name, err)
	}
	return nil
}

// quoteConf quotes s as a postgresql.conf string value.
func quoteConf(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
