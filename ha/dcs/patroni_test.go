package dcs

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// Keys written by pgkeep read back by Patroni's own patronictl (Debian's
// patroni 3.0.2): the member table with roles, states and timelines, the
// history and the dynamic configuration. (The other way round, Patroni's
// keys read by pgkeep, is tested on captured values in format_test.go.)
func TestPatronictlReadsPgkeepKeys(t *testing.T) {
	patronictl, err := exec.LookPath("patronictl")
	if err != nil {
		harness.Require(t, "patronictl (Patroni)", "apt-get install patroni")
	}
	e := harness.StartEtcd(t)
	ctx := context.Background()
	pg1 := newMember(t, e, "pg1", 30*time.Second)
	pg2 := newMember(t, e, "pg2", 30*time.Second)

	if err := pg1.Initialize(ctx, "7312345678901234567", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := pg1.SetConfig(ctx, map[string]any{"ttl": 3, "loop_wait": 1, "retry_timeout": 2,
		"maximum_lag_on_failover": 1048576, "synchronous_mode": true}, 0); err != nil {
		t.Fatal(err)
	}
	primary := MemberData{ConnURL: "postgres://127.0.0.1:5433/postgres", APIURL: "http://127.0.0.1:8009/patroni",
		State: StateRunning, Role: RolePrimary, XLogLocation: 0x3000060, Timeline: 2}
	replica := MemberData{ConnURL: "postgres://127.0.0.1:5434/postgres", APIURL: "http://127.0.0.1:8010/patroni",
		State: StateRunning, Role: RoleReplica, XLogLocation: 0x3000060 - 3<<20, ReceiveLSN: 0x3000060 - 3<<20, ReplayLSN: 0x3000060 - 3<<20, Timeline: 2,
		ReplicationState: "streaming", Tags: Tags{TagNoFailover: true}}
	if err := pg1.Register(ctx, primary); err != nil {
		t.Fatal(err)
	}
	if err := pg2.Register(ctx, replica); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := pg1.AcquireLeader(ctx); !ok || err != nil {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	if err := pg1.SetStatus(ctx, Status{Optime: 0x3000060}); err != nil {
		t.Fatal(err)
	}
	if err := pg1.SetHistory(ctx, []HistoryEntry{{Timeline: 1, LSN: 0x2000000, Reason: "no recovery target specified",
		Time: FormatTime(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)), NewLeader: "pg1"}}); err != nil {
		t.Fatal(err)
	}

	conf := filepath.Join(t.TempDir(), "patronictl.yaml")
	hosts := strings.TrimPrefix(e.Endpoints[0], "http://")
	if err := os.WriteFile(conf, []byte("scope: main\nnamespace: /service\netcd3:\n  hosts: "+hosts+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(patronictl, append([]string{"-c", conf}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("patronictl %v: %v\n%s%s", args, err, out, stderrOf(err))
		}
		return string(out)
	}

	var list []map[string]any
	if err := json.Unmarshal([]byte(run("list", "-f", "json")), &list); err != nil {
		t.Fatalf("patronictl list -f json: %v", err)
	}
	got := map[string]map[string]any{}
	for _, m := range list {
		got[m["Member"].(string)] = m
	}
	for name, want := range map[string]map[string]any{
		"pg1": {"Role": "Leader", "State": "running", "Host": "127.0.0.1:5433", "TL": 2.0},
		// Patroni 3.0.2 shows a replica "running" (later versions show the replication_state).
		"pg2": {"Role": "Replica", "State": "running", "Host": "127.0.0.1:5434", "TL": 2.0, "Lag in MB": 3.0},
	} {
		m, ok := got[name]
		if !ok {
			t.Errorf("patronictl list does not show %s: %v", name, list)
			continue
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("patronictl list: %s %s = %v, want %v (row %v)", name, k, m[k], v, m)
			}
		}
	}

	var hist []map[string]any
	if err := json.Unmarshal([]byte(run("history", "-f", "json")), &hist); err != nil {
		t.Fatalf("patronictl history -f json: %v", err)
	}
	if len(hist) != 1 || hist[0]["TL"] != 1.0 || hist[0]["New Leader"] != "pg1" || hist[0]["LSN"] != float64(0x2000000) {
		t.Errorf("patronictl history = %v, want timeline 1 ending at %d, new leader pg1", hist, 0x2000000)
	}

	if cfg := run("show-config"); !strings.Contains(cfg, "synchronous_mode: true") || !strings.Contains(cfg, "ttl: 3") {
		t.Errorf("patronictl show-config does not show the config key:\n%s", cfg)
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
