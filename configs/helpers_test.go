package configs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes content to a new file in a temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// baseEnv is an environment in which the defaults load: a posix repository path.
func baseEnv(more ...string) []string {
	return append([]string{"PGKEEP_REPO_PATH=/srv/repo"}, more...)
}

// mustLoad loads opts and fails the test on an error.
func mustLoad(t *testing.T, opts Options) *Config {
	t.Helper()
	c, err := Load(opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// wantError checks that err is a *Error whose message is want and whose Key is key.
func wantError(t *testing.T, err error, want, key string) {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *configs.Error", err, err)
	}
	if got := err.Error(); got != want {
		t.Errorf("error\n got: %s\nwant: %s", got, want)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is more than one line: %q", err)
	}
	if ce.Key != key {
		t.Errorf("error Key = %q, want %q", ce.Key, key)
	}
}
