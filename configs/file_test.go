package configs

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want, key string
	}{
		{"unknown top-level key", "cluster: main\nclusterr: x\n",
			`line 2: unknown key "clusterr"`, "clusterr"},
		{"unknown nested key", "cluster: main\n\n# repository\nrepo:\n  type: posix\n  compress-type: zstd\n  pathh: /srv\n",
			`line 7: unknown key "repo.pathh"`, "repo.pathh"},
		{"unknown key two levels down", "repo:\n  azure:\n    acount: x\n",
			`line 3: unknown key "repo.azure.acount"`, "repo.azure.acount"},
		{"dotted key", "repo.path: /srv\n",
			`line 1: unknown key "repo.path"`, "repo.path"},
		{"integer", "repo:\n  path: /srv\n\n\n\n\n\n  compress-level: fast\n",
			`line 8: repo.compress-level: want an integer, got "fast"`, "repo.compress-level"},
		{"duration without unit", "archive:\n  timeout: 60\n",
			`line 2: archive.timeout: want a duration such as 60s or 5m, got "60"`, "archive.timeout"},
		{"mapping for a string", "cluster:\n  name: main\n",
			`line 2: cluster: want a string, got a mapping`, "cluster"},
		{"list for a string", "pg:\n  user: [a, b]\n",
			`line 2: pg.user: want a string, got a list`, "pg.user"},
		{"list holding a mapping", "etcd:\n  endpoints:\n    - http://a:2379\n    - {url: x}\n",
			`line 4: etcd.endpoints: want a list of strings, got a mapping in it`, "etcd.endpoints"},
		{"scalar for a section", "repo: /srv\n",
			`line 1: repo: want a mapping of settings, got "/srv"`, "repo"},
		{"list at the top", "- cluster\n",
			`line 1: want a mapping of settings, got a list`, ""},
		{"secret in the file", "repo:\n  path: /srv\n  cipher-pass: hunter2\n",
			`line 3: repo.cipher-pass: secrets are not read from the config file; use repo.cipher-pass-file or PGKEEP_REPO_CIPHER_PASS`, "repo.cipher-pass"},
		{"azure secret in the file", "repo:\n  azure:\n    connection-string: x\n",
			`line 3: repo.azure.connection-string: secrets are not read from the config file; use repo.azure.connection-string-file or PGKEEP_REPO_AZURE_CONNECTION_STRING`, "repo.azure.connection-string"},
		{"key twice", "repo:\n  path: /a\n  path: /b\n",
			`line 3: repo.path: set twice (first on line 2)`, "repo.path"},
		{"section twice", "repo:\n  path: /a\nrepo:\n  type: posix\n",
			`line 3: repo: set twice (first on line 1)`, "repo"},
		{"syntax error", "repo:\n  path: /a\n  type: posix: zstd\n",
			`line 3: mapping values are not allowed in this context`, ""},
		{"two documents", "cluster: a\n---\ncluster: b\n",
			`line 2: more than one YAML document`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "pgkeep.yaml", tt.yaml)
			_, err := Load(Options{File: path, Env: baseEnv()})
			wantError(t, err, "config "+path+" "+tt.want, tt.key)
		})
	}
}

func TestFileMissing(t *testing.T) {
	path := t.TempDir() + "/x.yaml"
	_, err := Load(Options{File: path, Env: baseEnv()})
	wantError(t, err, "config "+path+": open "+path+": no such file or directory", "")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}
}

func TestFileValues(t *testing.T) {
	tests := []struct {
		name, yaml string
		check      func(*Config) any
		want       any
	}{
		{"empty file", "", func(c *Config) any { return c.PG.Port }, 5432},
		{"comments only", "# nothing\n", func(c *Config) any { return c.LogLevel }, "info"},
		{"document marker only", "---\n", func(c *Config) any { return c.Output }, "text"},
		{"null keeps the default", "pg:\n  port:\n  user: ~\n", func(c *Config) any { return c.PG.User + ":" + c.PG.Database }, "postgres:postgres"},
		{"null section", "repo:\n", func(c *Config) any { return c.Repo.Type }, "posix"},
		{"empty string", "pg:\n  bin: ''\n", func(c *Config) any { return c.PG.Bin }, ""},
		{"number as a string setting", "cluster: 42\n", func(c *Config) any { return c.Cluster }, "42"},
		{"quoted integer", "pg:\n  port: '5433'\n", func(c *Config) any { return c.PG.Port }, 5433},
		{"list", "etcd:\n  endpoints: [http://a:2379, 'http://b:2379']\n",
			func(c *Config) any { return c.Etcd.Endpoints }, []string{"http://a:2379", "http://b:2379"}},
		{"comma-separated list", "etcd:\n  endpoints: http://a:2379, http://b:2379\n",
			func(c *Config) any { return c.Etcd.Endpoints }, []string{"http://a:2379", "http://b:2379"}},
		{"empty list", "etcd:\n  endpoints: []\n", func(c *Config) any { return c.Etcd.Endpoints }, []string{}},
		{"duration", "archive:\n  timeout: 1m30s\n", func(c *Config) any { return c.Archive.Timeout }, 90 * time.Second},
		{"namespace with a trailing slash", "etcd:\n  namespace: /service/\n", func(c *Config) any { return c.Etcd.Namespace }, "/service"},
		{"default gzip level", "repo:\n  compress-type: gzip\n", func(c *Config) any { return c.Repo.CompressLevel }, 6},
		{"default s2 level", "repo:\n  compress-type: s2\n", func(c *Config) any { return c.Repo.CompressLevel }, 1},
		{"none has no level", "repo:\n  compress-type: none\n", func(c *Config) any { return c.Repo.CompressLevel }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "pgkeep.yaml", tt.yaml)
			c, err := Load(Options{File: path, Env: baseEnv()})
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.check(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestFileAlias(t *testing.T) {
	path := writeFile(t, "pgkeep.yaml", "pg:\n  user: &u admin\n  database: *u\n")
	c := mustLoad(t, Options{File: path, Env: baseEnv()})
	if c.PG.Database != "admin" {
		t.Errorf("pg.database = %q, want the alias's value admin", c.PG.Database)
	}
}

func TestFileValidationError(t *testing.T) {
	path := writeFile(t, "pgkeep.yaml", "repo:\n  compress-level: 25\n")
	_, err := Load(Options{File: path, Env: baseEnv()})
	wantError(t, err, "repo.compress-level: 25 out of range 1-19 for zstd", "repo.compress-level")
	if strings.Contains(err.Error(), "line") {
		t.Errorf("a validation error names no line: %v", err)
	}
}
