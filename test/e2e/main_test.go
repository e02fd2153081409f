// Package e2e runs the pgkeep binary the way operators and PostgreSQL do,
// against real PostgreSQL 15 servers, real storage and Azurite.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// pgkeepBin is the binary under test, built once by TestMain into a
// directory that the PostgreSQL OS user can read.
var pgkeepBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pgkeep-e2e-bin-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err == nil {
		pgkeepBin = filepath.Join(dir, "pgkeep")
		cmd := exec.Command("go", "build", "-o", pgkeepBin, "github.com/pgkeep/pgkeep/cmd/pgkeep")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		err = cmd.Run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build pgkeep:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one pgkeep run did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// pgkeep runs the binary as the PostgreSQL OS user (so repository files
// have the owner archive_command gives them) with env added.
func pgkeep(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runBinary(t, pgkeepBin, env, args...)
}

// runBinary is pgkeep with another build of the binary.
func runBinary(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := harness.PGCommand(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run pgkeep %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustPgkeep runs pgkeep and fails the test unless it exits 0.
func mustPgkeep(t *testing.T, env []string, args ...string) result {
	t.Helper()
	r := pgkeep(t, env, args...)
	if r.code != 0 {
		t.Fatalf("pgkeep %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// writeFile writes a file the PostgreSQL OS user can read.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	harness.Chown(t, path)
}

// chownDir gives a directory the test made to the PostgreSQL OS user.
func chownDir(t *testing.T, dir string) { harness.Chown(t, dir) }
