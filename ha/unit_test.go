package ha

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/ha/decide"
)

func TestParseHistoryFile(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	old := &dcs.History{Entries: []dcs.HistoryEntry{{Timeline: 1, LSN: 0x3000060, Reason: "no recovery target specified", Time: "2024-12-01T00:00:00+00:00", NewLeader: "b"}}}
	got := parseHistoryFile("1\t0/3000060\tno recovery target specified\n\n2\t0/50000A0\tno recovery target specified\n", old, "a", now)
	if len(got) != 2 || got[0] != old.Entries[0] {
		t.Fatalf("entries %+v", got)
	}
	if got[1].Timeline != 2 || got[1].LSN != 0x50000A0 || got[1].NewLeader != "a" || got[1].Time != "2025-01-01T00:00:00+00:00" {
		t.Errorf("new entry %+v", got[1])
	}
}

func TestStatusJSONRoundTrip(t *testing.T) {
	a := &Agent{o: Options{Name: "a", Cluster: "main", Tags: dcs.Tags{"nofailover": true}}}
	for _, st := range []pgState{
		{PG: decide.PG{Running: true, Timeline: 2, LSN: 500}},
		{PG: decide.PG{Running: true, InRecovery: true, Timeline: 2, LSN: 400, Streaming: true}, Receive: 400, Replay: 300},
		{PG: decide.PG{Timeline: 2, LSN: 100}},
	} {
		b, err := json.Marshal(a.statusOf(view{pg: st}))
		if err != nil {
			t.Fatal(err)
		}
		var s memberStatus
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		got := s.memberState("a")
		want := decide.MemberState{Name: "a", Reachable: true, Tags: dcs.Tags{"nofailover": true}, PG: st.PG}
		if !st.Running {
			want.PG = decide.PG{Timeline: 2, InRecovery: true} // a stopped member tells no position
		}
		if got.PG != want.PG || !got.Tags.NoFailover() {
			t.Errorf("%s: read back %+v, want %+v", b, got, want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]uint64{"0": 0, "1024": 1024, "16MB": 16 << 20, "1 GB": 1 << 30, "8kB": 8192, "5B": 5} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseBytes("lots"); err == nil {
		t.Error("parseBytes accepted lots")
	}
}

func TestOptionsRefused(t *testing.T) {
	_, err := New(Options{})
	for _, want := range []string{"member name", "cluster name", "data directory", "conn_url", "REST API", "etcd"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("empty options: %v; want it to name %s", err, want)
		}
	}
	ok := Options{Name: "a", Cluster: "main", PGData: "/x", ConnURL: "postgres://h:5432/postgres", APIListen: "127.0.0.1:0", Etcd: &clientv3.Client{}}
	bad := ok
	bad.TTL, bad.SafetyMargin = 2*time.Second, 2*time.Second
	if _, err := New(bad); err == nil || !strings.Contains(err.Error(), "safety margin") {
		t.Errorf("margin = ttl: %v", err)
	}
	bad = ok
	bad.TTL, bad.LoopWait = 4*time.Second, 3*time.Second
	if _, err := New(bad); err == nil || !strings.Contains(err.Error(), "loop_wait") {
		t.Errorf("loop_wait >= ttl - margin: %v", err)
	}
	if _, err := New(ok); err != nil {
		t.Errorf("good options refused: %v", err)
	}
}

// Failures that are expected are not warnings: a data directory that
// initdb or a clone is still filling has no pg_control yet, and calls cut
// short because the agent is stopping fail with context.Canceled.
func TestExpectedFailuresAreQuiet(t *testing.T) {
	var out strings.Builder
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := &Agent{log: log}
	ctx, cancel := context.WithCancel(t.Context())
	a.warn(ctx, "cannot write the member key", errors.New("etcd down"))
	cancel()
	a.warn(ctx, "cannot write the member key", context.Canceled)
	if n := strings.Count(out.String(), "level=WARN"); n != 1 || !strings.Contains(out.String(), "level=DEBUG") {
		t.Fatalf("want one warning (the running agent's) and one debug line (the stopping one's):\n%s", out.String())
	}

	dir := t.TempDir()
	p := &postgres{dataDir: dir}
	if p.hasControlFile() {
		t.Fatal("hasControlFile in an empty data directory")
	}
	if err := os.MkdirAll(filepath.Join(dir, "global"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "global", "pg_control"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !p.hasControlFile() {
		t.Fatal("no hasControlFile with global/pg_control")
	}
}
