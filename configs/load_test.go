package configs

import (
	"slices"
	"testing"
	"time"
)

func TestLoadPrecedence(t *testing.T) {
	file := writeFile(t, "pgkeep.yaml", `
cluster: file
log-level: debug
output: json
repo:
  path: /srv/file
pg:
  port: 5440
  user: file-user
etcd:
  endpoints: [http://file:2379]
archive:
  timeout: 10s
`)
	env := []string{
		"PGKEEP_CLUSTER=env",
		"PGKEEP_LOG_LEVEL=warn",
		"PGKEEP_PG_PORT=5441",
		"PGKEEP_ETCD_ENDPOINTS=http://env1:2379,http://env2:2379",
		"PGKEEP_ARCHIVE_TIMEOUT=20s",
	}
	flags := parseFlags(t, "--cluster=flag", "--archive-timeout=30s", "--pg-port", "5442")
	c := mustLoad(t, Options{File: file, Env: env, Flags: flags})

	tests := []struct {
		key       string
		got, want any
	}{
		{"cluster: file < env < flag", c.Cluster, "flag"},
		{"archive.timeout: file < env < flag", c.Archive.Timeout, 30 * time.Second},
		{"pg.port: file < env < flag", c.PG.Port, 5442},
		{"log-level: file < env", c.LogLevel, "warn"},
		{"etcd.endpoints: file < env", slices.Clone(c.Etcd.Endpoints), []string{"http://env1:2379", "http://env2:2379"}},
		{"output: file", c.Output, "json"},
		{"pg.user: file", c.PG.User, "file-user"},
		{"repo.path: file", c.Repo.Path, "/srv/file"},
		{"pg.database: default", c.PG.Database, "postgres"},
		{"repo.compress-level: derived default", c.Repo.CompressLevel, 3},
	}
	for _, tt := range tests {
		if !equal(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.key, tt.got, tt.want)
		}
	}
}

// equal compares values that are comparable or string slices.
func equal(a, b any) bool {
	if as, ok := a.([]string); ok {
		bs, ok := b.([]string)
		return ok && slices.Equal(as, bs)
	}
	return a == b
}

func TestLoadDefaultsNeedRepoPath(t *testing.T) {
	c, err := Load(Options{Env: []string{}})
	if err != nil {
		t.Fatalf("the defaults without a repository (pgkeep ha needs none): %v", err)
	}
	if c.Repo.Configured() {
		t.Fatal("the defaults say a repository is configured")
	}
	wantError(t, c.RequireRepo(), "repo.path: required for repo.type posix", "repo.path")
	c.Repo.Path = "/srv/repo"
	if err := c.RequireRepo(); err != nil || !c.Repo.Configured() {
		t.Fatalf("with repo.path: %v", err)
	}
}

func TestAllKeys(t *testing.T) {
	keys := AllKeys()
	if len(keys) != len(settings.leaves)-7 {
		t.Errorf("AllKeys has %d keys of %d settings; want all but the 7 secrets", len(keys), len(settings.leaves))
	}
	for _, k := range keys {
		if settings.byKey[k].kind == kindSecret {
			t.Errorf("AllKeys has the secret %s", k)
		}
	}
	if keys[0] != "cluster" || !slices.Contains(keys, "repo.azure.endpoint") || !slices.Contains(keys, "archive.timeout") {
		t.Errorf("AllKeys = %v", keys)
	}
}
