package configs

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// parseFlags binds every key on a new flag set and parses args.
func parseFlags(t *testing.T, args ...string) *Flags {
	t.Helper()
	fs := pflag.NewFlagSet("pgkeep", pflag.ContinueOnError)
	f := Bind(fs, AllKeys()...)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFlagNames(t *testing.T) {
	// The command line of DESIGN.md.
	want := []string{
		"cluster", "log-level", "output",
		"repo-type", "repo-path", "repo-compress-type", "repo-compress-level",
		"repo-cipher-pass-file", "repo-server",
		"repo-azure-account", "repo-azure-container", "repo-azure-endpoint",
		"repo-azure-key-file", "repo-azure-sas-file", "repo-azure-connection-string-file",
		"pgdata", "pg-host", "pg-port", "pg-user", "pg-database", "pg-bin",
		"etcd-endpoints", "etcd-namespace", "archive-timeout", "backup-config-files", "backup-standby", "backup-workers",
		// Added with the repository server (issue 4).
		"repo-server-token-file", "repo-server-ca-file", "repo-server-cert-file", "repo-server-key-file",
		"archive-async", "archive-spool-path", "archive-queue-max-mb", "archive-get-queue-max-mb", "archive-process-max",
		"retention-full", "retention-diff", "retention-days",
		"server-name", "server-listen", "server-tls-cert-file", "server-tls-key-file", "server-client-ca-file",
		"server-token-file", "server-spool-path", "server-stream", "server-slot", "server-application-name",
		"server-synchronous", "server-synchronous-strict", "server-partial-interval", "server-lease-ttl",
		"server-schedule-full", "server-schedule-diff", "server-schedule-incr", "server-schedule-verify",
		// Added with the failover agent (issue 5).
		"pg-parameters", "ha-name", "ha-ttl", "ha-loop-wait", "ha-retry-timeout", "ha-maximum-lag-on-failover-mb",
		"ha-synchronous-mode", "ha-synchronous-mode-strict", "ha-nofailover", "ha-failover-priority",
		"ha-listen", "ha-connect-address", "ha-pg-connect-address", "ha-tls-cert-file", "ha-tls-key-file", "ha-client-ca-file", "ha-ca-file",
		"ha-token-file", "ha-replica-method", "ha-permanent-slots", "ha-stall-timeout",
		"ha-bootstrap-method", "ha-bootstrap-cluster", "ha-bootstrap-set", "ha-bootstrap-target-time",
	}
	fs := pflag.NewFlagSet("pgkeep", pflag.ContinueOnError)
	Bind(fs, AllKeys()...)
	var got []string
	fs.VisitAll(func(f *pflag.Flag) { got = append(got, f.Name) })
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("flags\n got: %v\nwant: %v", got, want)
	}
}

func TestFlagValues(t *testing.T) {
	f := parseFlags(t,
		"--cluster=c1", "--pgdata", "/pg/data", "--pg-port", "6000",
		"--etcd-endpoints", "http://a:2379,http://b:2379", "--etcd-endpoints=http://c:2379",
		"--archive-timeout", "90s", "--repo-compress-type", "none", "--repo-path", "/srv/flag")
	c := mustLoad(t, Options{Env: baseEnv(), Flags: f})
	want := Defaults()
	want.Cluster = "c1"
	want.PG.Data, want.PG.Port = "/pg/data", 6000
	want.Etcd.Endpoints = []string{"http://a:2379", "http://b:2379", "http://c:2379"}
	want.Archive.Timeout = 90 * time.Second
	want.Repo.CompressType, want.Repo.Path = "none", "/srv/flag"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args      []string
		want, key string
	}{
		{[]string{"--pg-port", "x"}, `flag --pg-port: pg.port: want an integer, got "x"`, "pg.port"},
		{[]string{"--archive-timeout=soon"}, `flag --archive-timeout: archive.timeout: want a duration such as 60s or 5m, got "soon"`, "archive.timeout"},
		{[]string{"--repo-type", "s3"}, `repo.type: "s3" is not one of posix, azure, server`, "repo.type"},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			_, err := Load(Options{Env: baseEnv(), Flags: parseFlags(t, tt.args...)})
			wantError(t, err, tt.want, tt.key)
		})
	}
}

func TestFlagsOnlyChangedOverride(t *testing.T) {
	c := mustLoad(t, Options{Env: baseEnv("PGKEEP_PG_PORT=7000", "PGKEEP_LOG_LEVEL=warn"), Flags: parseFlags(t)})
	if c.PG.Port != 7000 || c.LogLevel != "warn" {
		t.Errorf("unset flags overrode the environment: pg.port %d, log-level %s", c.PG.Port, c.LogLevel)
	}
	// A flag given with the default value still wins.
	c = mustLoad(t, Options{Env: baseEnv("PGKEEP_PG_PORT=7000"), Flags: parseFlags(t, "--pg-port=5432")})
	if c.PG.Port != 5432 {
		t.Errorf("--pg-port=5432 did not override PGKEEP_PG_PORT=7000: pg.port %d", c.PG.Port)
	}
}

func TestFlagHelp(t *testing.T) {
	fs := pflag.NewFlagSet("pgkeep", pflag.ContinueOnError)
	Bind(fs, "repo.type", "pg.port", "archive.timeout", "etcd.endpoints")
	var b bytes.Buffer
	fs.SetOutput(&b)
	fs.PrintDefaults()
	for _, want := range []string{
		`--repo-type string`, `(default "posix")`,
		`--pg-port int`, `(default 5432)`,
		`--archive-timeout duration`, `(default 1m0s)`,
		`--etcd-endpoints strings`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, b.String())
		}
	}
}

func TestBindPanics(t *testing.T) {
	for _, key := range []string{"repo.cipher-pass", "repo.azure.key", "repo", "nope"} {
		t.Run(key, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Bind(%q) did not panic", key)
				}
			}()
			Bind(pflag.NewFlagSet("x", pflag.ContinueOnError), key)
		})
	}
}

// An alias on a command's own flags (archive-push --async) sets its key as
// the key's flag does, is validated the same way, and is applied after it.
func TestFlagAlias(t *testing.T) {
	root := pflag.NewFlagSet("pgkeep", pflag.ContinueOnError)
	f := Bind(root, "archive.async", "archive.spool-path", "pg.port")
	local := pflag.NewFlagSet("archive-push", pflag.ContinueOnError)
	f.Alias(local, "async", "archive.async", "as --archive-async")
	parse := func(rootArgs, localArgs []string) {
		t.Helper()
		if err := root.Parse(rootArgs); err != nil {
			t.Fatal(err)
		}
		if err := local.Parse(localArgs); err != nil {
			t.Fatal(err)
		}
	}
	parse([]string{"--archive-spool-path=/var/spool/x"}, []string{"--async"})
	c := mustLoad(t, Options{Env: baseEnv(), Flags: f})
	if !c.Archive.Async || c.Archive.SpoolPath != "/var/spool/x" {
		t.Fatalf("--async: archive.async %v, spool-path %q", c.Archive.Async, c.Archive.SpoolPath)
	}
	parse([]string{"--archive-async=true"}, []string{"--async=false"})
	if c := mustLoad(t, Options{Env: baseEnv(), Flags: f}); c.Archive.Async {
		t.Fatal("--async=false given after --archive-async=true did not win")
	}

	root2 := pflag.NewFlagSet("pgkeep", pflag.ContinueOnError)
	f2 := Bind(root2, "archive.async")
	local2 := pflag.NewFlagSet("archive-push", pflag.ContinueOnError)
	f2.Alias(local2, "async", "archive.async", "")
	if err := local2.Parse([]string{"--async"}); err != nil {
		t.Fatal(err)
	}
	_, err := Load(Options{Env: baseEnv(), Flags: f2})
	if err == nil || !strings.Contains(err.Error(), "archive.spool-path") {
		t.Fatalf("--async without a spool path: %v; want the error naming archive.spool-path", err)
	}
}
