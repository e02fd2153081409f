package configs

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// validAzure returns a valid configuration of an Azure repository.
func validAzure() *Config {
	c := Defaults()
	c.Repo.Type = RepoAzure
	c.Repo.Azure = Azure{Account: "devstoreaccount1", Container: "pgkeep"}
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   string // "" for valid
	}{
		{"valid posix", func(c *Config) {}, ""},
		{"posix without path: no repository (RequireRepo refuses it)", func(c *Config) { c.Repo.Path = "" }, ""},
		{"managed parameter", func(c *Config) { c.PG.Parameters = map[string]string{"work_mem": "8MB", "Primary_Conninfo": "host=x"} },
			"pg.parameters: primary_conninfo is managed by pgkeep ha"},
		{"port parameter", func(c *Config) { c.PG.Parameters = map[string]string{"port": "5433"} },
			"pg.parameters: port is managed by pgkeep ha: set pg.port"},
		{"bad cluster", func(c *Config) { c.Cluster = "my cluster" },
			`cluster: "my cluster" is not a valid cluster name (up to 63 letters, digits, '_', '.' or '-', starting with a letter or digit)`},
		{"cluster too long", func(c *Config) { c.Cluster = strings.Repeat("a", 64) }, "cluster: "},
		{"longest cluster", func(c *Config) { c.Cluster = "A" + strings.Repeat("b_.-", 15) + "zz" }, ""},
		{"log level", func(c *Config) { c.LogLevel = "trace" },
			`log-level: "trace" is not one of debug, info, warn, error`},
		{"output", func(c *Config) { c.Output = "yaml" }, `output: "yaml" is not one of text, json`},
		{"repo type", func(c *Config) { c.Repo.Type = "s3" }, `repo.type: "s3" is not one of posix, azure, server`},
		{"compress type", func(c *Config) { c.Repo.CompressType = "lz4" },
			`repo.compress-type: "lz4" is not one of zstd, s2, gzip, none`},
		{"zstd level", func(c *Config) { c.Repo.CompressLevel = 25 }, "repo.compress-level: 25 out of range 1-19 for zstd"},
		{"negative level", func(c *Config) { c.Repo.CompressLevel = -1 }, "repo.compress-level: -1 out of range 1-19 for zstd"},
		{"zstd 19", func(c *Config) { c.Repo.CompressLevel = 19 }, ""},
		{"gzip level", func(c *Config) { c.Repo.CompressType, c.Repo.CompressLevel = "gzip", 10 },
			"repo.compress-level: 10 out of range 1-9 for gzip"},
		{"s2 level", func(c *Config) { c.Repo.CompressType, c.Repo.CompressLevel = "s2", 4 },
			"repo.compress-level: 4 out of range 1-3 for s2"},
		{"none with a level", func(c *Config) { c.Repo.CompressType, c.Repo.CompressLevel = "none", 3 },
			"repo.compress-level: must be 0 or unset for repo.compress-type none, got 3"},
		{"server without URL", func(c *Config) { c.Repo.Type = RepoServer },
			"repo.server: required for repo.type server"},
		{"server not a URL", func(c *Config) { c.Repo.Type, c.Repo.Server = RepoServer, "backup:8008" },
			`repo.server: "backup:8008" is not an http(s) URL`},
		{"server", func(c *Config) { c.Repo.Type, c.Repo.Server = RepoServer, "https://backup:8008" }, ""},
		{"azure valid", func(c *Config) { *c = *validAzure() }, ""},
		{"azure without account", func(c *Config) { *c = *validAzure(); c.Repo.Azure.Account = "" },
			"repo.azure.account: required for repo.type azure"},
		{"azure bad account", func(c *Config) { *c = *validAzure(); c.Repo.Azure.Account = "My_Account" },
			`repo.azure.account: "My_Account" is not a valid storage account name (3-24 lowercase letters and digits)`},
		{"azure without container", func(c *Config) { *c = *validAzure(); c.Repo.Azure.Container = "" },
			"repo.azure.container: required for repo.type azure"},
		{"azure container upper case", func(c *Config) { *c = *validAzure(); c.Repo.Azure.Container = "Backups" },
			`repo.azure.container: "Backups" is not a valid container name (3-63 lowercase letters, digits and single '-', starting and ending with a letter or digit)`},
		{"azure container short", func(c *Config) { *c = *validAzure(); c.Repo.Azure.Container = "ab" }, "repo.azure.container: "},
		{"azure container long", func(c *Config) { *c = *validAzure(); c.Repo.Azure.Container = strings.Repeat("a", 64) }, "repo.azure.container: "},
		{"azure container 63", func(c *Config) { *c = *validAzure(); c.Repo.Azure.Container = strings.Repeat("a", 63) }, ""},
		{"azure container double hyphen", func(c *Config) { *c = *validAzure(); c.Repo.Azure.Container = "a--b" }, "repo.azure.container: "},
		{"azure container trailing hyphen", func(c *Config) { *c = *validAzure(); c.Repo.Azure.Container = "abc-" }, "repo.azure.container: "},
		{"azure endpoint", func(c *Config) { *c = *validAzure(); c.Repo.Azure.Endpoint = "127.0.0.1:10000" },
			`repo.azure.endpoint: "127.0.0.1:10000" is not an http(s) URL`},
		{"azurite endpoint", func(c *Config) {
			*c = *validAzure()
			c.Repo.Azure.Endpoint = "http://127.0.0.1:10000/devstoreaccount1"
		}, ""},
		{"azure two credentials", func(c *Config) {
			*c = *validAzure()
			c.Repo.Azure.Key, c.Repo.Azure.ConnectionString = "k", "c"
		}, "repo.azure: more than one credential given (key, connection-string); give one of key, sas or connection-string"},
		{"azure one credential", func(c *Config) { *c = *validAzure(); c.Repo.Azure.SAS = "s" }, ""},
		{"pg port", func(c *Config) { c.PG.Port = 70000 }, "pg.port: 70000 out of range 1-65535"},
		{"pg port zero", func(c *Config) { c.PG.Port = 0 }, "pg.port: 0 out of range 1-65535"},
		{"etcd endpoint", func(c *Config) { c.Etcd.Endpoints = []string{"http://a:2379", "etcd1"} },
			`etcd.endpoints: "etcd1" is neither an http(s) URL nor host:port`},
		{"etcd endpoint scheme", func(c *Config) { c.Etcd.Endpoints = []string{"ftp://a:2379"} },
			`etcd.endpoints: "ftp://a:2379" is not an http(s) URL`},
		{"etcd host:port", func(c *Config) { c.Etcd.Endpoints = []string{"10.0.0.1:2379", "https://e:2379"} }, ""},
		{"etcd namespace", func(c *Config) { c.Etcd.Namespace = "service" }, `etcd.namespace: "service" must start with '/'`},
		{"archive timeout", func(c *Config) { c.Archive.Timeout = 0 }, "archive.timeout: must be positive, got 0s"},
		{"archive timeout negative", func(c *Config) { c.Archive.Timeout = -time.Second }, "archive.timeout: must be positive, got -1s"},
		{"async without spool", func(c *Config) { c.Archive.Async = true }, "archive.spool-path: required for archive.async"},
		{"async spool relative", func(c *Config) { c.Archive.Async, c.Archive.SpoolPath = true, "spool" },
			`archive.spool-path: "spool" is not an absolute path`},
		{"async", func(c *Config) { c.Archive.Async, c.Archive.SpoolPath = true, "/var/spool/pgkeep" }, ""},
		{"queue max", func(c *Config) { c.Archive.QueueMaxMB = -1 }, "archive.queue-max-mb: -1 is negative"},
		{"get queue max", func(c *Config) { c.Archive.GetQueueMaxMB = -2 }, "archive.get-queue-max-mb: -2 is negative"},
		{"process max", func(c *Config) { c.Archive.ProcessMax = 0 }, "archive.process-max: 0 out of range 1-64"},
		{"retention", func(c *Config) { c.Retention.Days = -3 }, "retention.days: -3 is negative"},
		{"server listen", func(c *Config) { c.Server.Listen = "8432" }, `server.listen: "8432" is not host:port`},
		{"server no listen", func(c *Config) { c.Server.Listen = "" }, ""},
		{"server half TLS", func(c *Config) { c.Server.TLSKeyFile = "/k.pem" }, "server.tls-cert-file: give both"},
		{"server client CA without TLS", func(c *Config) { c.Server.ClientCAFile = "/ca.pem" },
			"server.client-ca-file: client certificates need TLS"},
		{"server slot", func(c *Config) { c.Server.Slot = "Pg-Keep" },
			`server.slot: "Pg-Keep" is not a valid replication slot name`},
		{"server partial interval", func(c *Config) { c.Server.PartialInterval = 0 }, "server.partial-interval: must be positive"},
		{"server strict without synchronous", func(c *Config) { c.Server.SynchronousStrict = true }, "server.synchronous-strict: needs server.synchronous"},
		{"server lease", func(c *Config) { c.Server.LeaseTTL = time.Second }, "server.lease-ttl: must be at least 2s, got 1s"},
		{"server spool", func(c *Config) { c.Server.SpoolPath = "spool" }, `server.spool-path: "spool" is not an absolute path`},
		{"server schedule", func(c *Config) { c.Server.Schedule.Incr = "0 * * *" },
			`server.schedule.incr: cron "0 * * *": want 5 fields`},
		{"server schedules", func(c *Config) {
			c.Server.Schedule = Schedule{Full: "0 1 * * sun", Diff: "0 1 * * 1-6", Incr: "@hourly", Verify: "@every 1h"}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			c.Repo.Path = "/srv/repo"
			tt.change(c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Validate: %v\nwant a *configs.Error starting %s", err, tt.want)
			}
			if key, _, _ := strings.Cut(tt.want, ": "); ce.Key != key {
				t.Errorf("Key %q, want %q", ce.Key, key)
			}
		})
	}
}

func TestRequireCluster(t *testing.T) {
	c := Defaults()
	wantError(t, c.RequireCluster(), "cluster: required (--cluster, PGKEEP_CLUSTER or cluster: in the config file)", "cluster")
	c.Cluster = "main"
	if err := c.RequireCluster(); err != nil {
		t.Error(err)
	}
}
