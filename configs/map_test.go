package configs

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
)

// wantErrorWith checks for a one-line *Error of key that contains want.
func wantErrorWith(t *testing.T, err error, want, key string) {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") || ce.Key != key {
		t.Fatalf("error %v (key %v), want a one-line error of %s containing %q", err, ce, key, want)
	}
}

// A map setting merges its sources: the file's entries, then the
// environment's, then the flags', each adding or replacing entries.
func TestMapSettingMerges(t *testing.T) {
	file := writeFile(t, "c.yaml", "pg:\n  parameters:\n    shared_buffers: 128MB\n    work_mem: 4MB\n    max_connections: 100\n")
	c := mustLoad(t, Options{File: file, Env: baseEnv("PGKEEP_PG_PARAMETERS=work_mem=8MB, wal_level=replica"),
		Flags: parseFlags(t, "--pg-parameters", "shared_buffers=1GB", "--pg-parameters=jit=off")})
	want := map[string]string{"shared_buffers": "1GB", "work_mem": "8MB", "max_connections": "100", "wal_level": "replica", "jit": "off"}
	if !maps.Equal(c.PG.Parameters, want) {
		t.Fatalf("parameters %v, want %v", c.PG.Parameters, want)
	}
}

func TestMapSettingErrors(t *testing.T) {
	_, err := Load(Options{Env: baseEnv("PGKEEP_PG_PARAMETERS=work_mem")})
	wantErrorWith(t, err, `pg.parameters: want a mapping of names to values (name=value,...), got "work_mem"`, "pg.parameters")
	file := writeFile(t, "c.yaml", "pg:\n  parameters:\n    work_mem: [1, 2]\n")
	_, err = Load(Options{File: file, Env: baseEnv()})
	wantErrorWith(t, err, "want a value for work_mem", "pg.parameters")
	file = writeFile(t, "c.yaml", "pg:\n  parameters: 5\n")
	_, err = Load(Options{File: file, Env: baseEnv()})
	wantErrorWith(t, err, "want a mapping of names to values", "pg.parameters")
}

func TestValidateHA(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(h *HA)
		want   string
	}{
		{"defaults", func(h *HA) {}, ""},
		{"ttl", func(h *HA) { h.TTL = time.Second }, "ha.ttl: must be at least 2s, got 1s"},
		{"loop wait", func(h *HA) { h.LoopWait = 5 * time.Second }, "ha.loop-wait: must be positive and below ha.ttl"},
		{"retry timeout", func(h *HA) { h.RetryTimeout = 0 }, "ha.retry-timeout: must be positive"},
		{"strict without sync", func(h *HA) { h.SynchronousModeStrict = true }, "ha.synchronous-mode-strict: needs ha.synchronous-mode"},
		{"listen", func(h *HA) { h.Listen = "8008" }, `ha.listen: "8008" is not host:port`},
		{"slot", func(h *HA) { h.PermanentSlots = []string{"Bad-Slot"} }, `ha.permanent-slots: "Bad-Slot"`},
		{"replica method", func(h *HA) { h.ReplicaMethod = "rsync" }, `ha.replica-method: "rsync" is not one of backup, basebackup`},
		{"stall timeout", func(h *HA) { h.StallTimeout = time.Second }, "ha.stall-timeout: must be at least 10s"},
		{"bootstrap", func(h *HA) { h.Bootstrap.Method = "clone" }, `ha.bootstrap.method: "clone" is not one of initdb, backup`},
		{"half TLS", func(h *HA) { h.TLSCertFile = "/c.pem" }, "ha.tls-cert-file: give both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			c.Repo.Path = "/srv/repo"
			tc.change(&c.HA)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			key, _, _ := strings.Cut(tc.want, ":")
			wantErrorWith(t, err, tc.want, key)
		})
	}
}
