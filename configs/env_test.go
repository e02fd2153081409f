package configs

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name, env, want, key string
	}{
		{"integer", "PGKEEP_PG_PORT=x",
			`environment PGKEEP_PG_PORT: pg.port: want an integer, got "x"`, "pg.port"},
		{"unknown variable", "PGKEEP_REPO_PATHX=/srv",
			`environment PGKEEP_REPO_PATHX: unknown setting`, ""},
		{"unknown empty variable", "PGKEEP_NOPE=",
			`environment PGKEEP_NOPE: unknown setting`, ""},
		{"section, not a setting", "PGKEEP_REPO_AZURE=x",
			`environment PGKEEP_REPO_AZURE: unknown setting`, ""},
		{"duration", "PGKEEP_ARCHIVE_TIMEOUT=5",
			`environment PGKEEP_ARCHIVE_TIMEOUT: archive.timeout: want a duration such as 60s or 5m, got "5"`, "archive.timeout"},
		{"validated after loading", "PGKEEP_LOG_LEVEL=verbose",
			`log-level: "verbose" is not one of debug, info, warn, error`, "log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Options{Env: baseEnv(tt.env)})
			wantError(t, err, tt.want, tt.key)
		})
	}
}

func TestEnvValues(t *testing.T) {
	c := mustLoad(t, Options{Env: []string{
		"PATH=/bin",
		"PGKEEP_CLUSTER=prod",
		"PGKEEP_LOG_LEVEL=debug",
		"PGKEEP_OUTPUT=json",
		"PGKEEP_REPO_TYPE=azure",
		"PGKEEP_REPO_COMPRESS_TYPE=gzip",
		"PGKEEP_REPO_COMPRESS_LEVEL=9",
		"PGKEEP_REPO_AZURE_ACCOUNT=devstoreaccount1",
		"PGKEEP_REPO_AZURE_CONTAINER=pgkeep-test",
		"PGKEEP_REPO_AZURE_ENDPOINT=http://127.0.0.1:10000/devstoreaccount1",
		"PGKEEP_PG_DATA=/pg/data",
		"PGKEEP_PG_HOST=",
		"PGKEEP_PG_PORT=5433",
		"PGKEEP_ETCD_ENDPOINTS=http://10.0.0.1:2379, http://10.0.0.2:2379,,10.0.0.3:2379",
		"PGKEEP_ARCHIVE_TIMEOUT=2m",
	}})
	want := Defaults()
	want.Cluster, want.LogLevel, want.Output = "prod", "debug", "json"
	want.Repo.Type, want.Repo.CompressType, want.Repo.CompressLevel = "azure", "gzip", 9
	want.Repo.Azure = Azure{Account: "devstoreaccount1", Container: "pgkeep-test", Endpoint: "http://127.0.0.1:10000/devstoreaccount1"}
	want.PG.Data, want.PG.Port = "/pg/data", 5433
	want.Etcd.Endpoints = []string{"http://10.0.0.1:2379", "http://10.0.0.2:2379", "10.0.0.3:2379"}
	want.Archive.Timeout = 2 * time.Minute
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestEnvConfigFile(t *testing.T) {
	fromEnv := writeFile(t, "env.yaml", "cluster: from-env-file\n")
	fromOpts := writeFile(t, "opts.yaml", "cluster: from-options\n")
	c := mustLoad(t, Options{Env: baseEnv(EnvConfig + "=" + fromEnv)})
	if c.Cluster != "from-env-file" {
		t.Errorf("with PGKEEP_CONFIG: cluster = %q", c.Cluster)
	}
	c = mustLoad(t, Options{File: fromOpts, Env: baseEnv(EnvConfig + "=" + fromEnv)})
	if c.Cluster != "from-options" {
		t.Errorf("Options.File does not win over PGKEEP_CONFIG: cluster = %q", c.Cluster)
	}
}

func TestEnvNilMeansProcessEnvironment(t *testing.T) {
	// Hide PGKEEP_* variables of the environment the tests run in (t.Setenv restores them).
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, envPrefix) {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	t.Setenv("PGKEEP_REPO_PATH", "/from/process")
	t.Setenv("PGKEEP_CLUSTER", "proc")
	c := mustLoad(t, Options{})
	if c.Repo.Path != "/from/process" || c.Cluster != "proc" {
		t.Errorf("repo.path %q cluster %q: the process environment was not read", c.Repo.Path, c.Cluster)
	}
}

func TestEnvNames(t *testing.T) {
	want := map[string]string{
		"cluster":                           "PGKEEP_CLUSTER",
		"log-level":                         "PGKEEP_LOG_LEVEL",
		"repo.path":                         "PGKEEP_REPO_PATH",
		"repo.azure.account":                "PGKEEP_REPO_AZURE_ACCOUNT",
		"repo.azure.connection-string-file": "PGKEEP_REPO_AZURE_CONNECTION_STRING_FILE",
		"repo.cipher-pass":                  "PGKEEP_REPO_CIPHER_PASS",
		"repo.azure.key":                    "PGKEEP_REPO_AZURE_KEY",
		"repo.azure.sas":                    "PGKEEP_REPO_AZURE_SAS",
		"repo.azure.connection-string":      "PGKEEP_REPO_AZURE_CONNECTION_STRING",
		"pg.port":                           "PGKEEP_PG_PORT",
		"etcd.endpoints":                    "PGKEEP_ETCD_ENDPOINTS",
		"archive.timeout":                   "PGKEEP_ARCHIVE_TIMEOUT",
	}
	for key, env := range want {
		l := settings.byKey[key]
		if l == nil {
			t.Errorf("no setting %s", key)
			continue
		}
		if l.env != env || settings.byEnv[env] != l {
			t.Errorf("%s: environment %s, want %s", key, l.env, env)
		}
	}
}

// PGKEEP_TEST_* belongs to the test harness: pgkeep run by a test sees it and must not fail.
func TestEnvTestPrefixIgnored(t *testing.T) {
	c := mustLoad(t, Options{Env: []string{"PGKEEP_TEST_PGBIN=/x", "PGKEEP_TEST_AZURITE=/y", "PGKEEP_CLUSTER=c1", "PGKEEP_REPO_PATH=/r"}})
	if c.Cluster != "c1" {
		t.Fatalf("cluster = %q", c.Cluster)
	}
}
