package dcs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The fixtures in testdata are values in the format Patroni writes (compact
// JSON, its field order): what pgkeep writes must be byte for byte the
// same, and what Patroni writes must read back.

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMemberDataRoundTrip(t *testing.T) {
	for _, name := range []string{"member_primary.json", "member_replica.json"} {
		raw := fixture(t, name)
		m, err := ParseMemberData(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if got != string(raw) {
			t.Errorf("%s: encoded differently from Patroni\n got %s\nwant %s", name, got, raw)
		}
	}
}

func TestMemberDataWrittenLikePatroni(t *testing.T) {
	m := MemberData{
		ConnURL:          "postgres://127.0.0.2:5433/postgres",
		APIURL:           "http://127.0.0.2:8009/patroni",
		State:            StateRunning,
		Role:             RoleReplica,
		Version:          "4.0.4",
		Tags:             Tags{"failover_priority": 2, "nosync": true},
		XLogLocation:     50331648,
		ReplayLSN:        50331648,
		ReceiveLSN:       50331968,
		ReplicationState: ReplicationStreaming,
		Timeline:         2,
	}
	got, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := string(fixture(t, "member_replica.json")); got != want {
		t.Errorf("replica key\n got %s\nwant %s", got, want)
	}
	// A stopped member writes no position, as Patroni.
	stopped, _ := MemberData{ConnURL: "postgres://h:5432/postgres", APIURL: "http://h:8008/patroni", State: StateStopped, Role: RoleReplica}.Encode()
	if want := `{"conn_url":"postgres://h:5432/postgres","api_url":"http://h:8008/patroni","state":"stopped","role":"replica"}`; stopped != want {
		t.Errorf("stopped member\n got %s\nwant %s", stopped, want)
	}
}

func TestMemberDataReadsPatroni3(t *testing.T) {
	m, err := ParseMemberData(fixture(t, "member_patroni3_master.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.IsPrimary() || !m.IsRunning() || m.Timeline != 1 || m.XLogLocation != 67109128 {
		t.Errorf("Patroni 3 master read as %+v", m)
	}
	if !m.Tags.NoFailover() || m.Tags.FailoverPriority() != 0 {
		t.Errorf("nofailover tag read as nofailover=%v priority=%d", m.Tags.NoFailover(), m.Tags.FailoverPriority())
	}
	legacy, err := ParseMemberData([]byte("postgres://replicator@10.0.0.1:5432/postgres?application_name=http://10.0.0.1:8008/patroni"))
	if err != nil || legacy.ConnURL != "postgres://replicator@10.0.0.1:5432/postgres" || legacy.APIURL != "http://10.0.0.1:8008/patroni" {
		t.Errorf("legacy value read as %+v, %v", legacy, err)
	}
	if _, err := ParseMemberData([]byte("{not json")); err == nil {
		t.Error("garbage read without error")
	}
}

func TestTags(t *testing.T) {
	for _, c := range []struct {
		tags       Tags
		nofailover bool
		priority   int
	}{
		{nil, false, 1},
		{Tags{"nofailover": true}, true, 0},
		{Tags{"nofailover": false, "failover_priority": 0.0}, false, 0}, // nofailover, when set, wins
		{Tags{"failover_priority": 0.0}, true, 0},
		{Tags{"failover_priority": -1.0}, true, -1},
		{Tags{"failover_priority": 3.0}, false, 3},
		{Tags{"failover_priority": "5"}, false, 5},
		{Tags{"nofailover": "false"}, false, 1},
		{Tags{"nofailover": "on"}, true, 0},
	} {
		if got := c.tags.NoFailover(); got != c.nofailover {
			t.Errorf("%v: NoFailover = %v, want %v", c.tags, got, c.nofailover)
		}
		if got := c.tags.FailoverPriority(); got != c.priority {
			t.Errorf("%v: FailoverPriority = %d, want %d", c.tags, got, c.priority)
		}
	}
}

func TestConfigSettings(t *testing.T) {
	defaults := Settings{TTL: 5 * time.Second, LoopWait: time.Second, RetryTimeout: 2 * time.Second, MaximumLagOnFailover: 1}
	if got := (*ClusterConfig)(nil).Settings(defaults); got != defaults {
		t.Errorf("no config key: %+v, want the defaults", got)
	}
	c := parseConfig(7, fixture(t, "config.json"))
	want := Settings{TTL: 30 * time.Second, LoopWait: 10 * time.Second, RetryTimeout: 10 * time.Second,
		MaximumLagOnFailover: 1048576, SynchronousMode: true, Pause: true}
	if got := c.Settings(defaults); got != want {
		t.Errorf("settings\n got %+v\nwant %+v", got, want)
	}
	if c.ModRevision != 7 || c.Data["postgresql"] == nil {
		t.Errorf("config keeps its revision and unknown keys: %+v", c)
	}
	bad := parseConfig(8, []byte(`{"ttl":"thirty","loop_wait":-1,"synchronous_mode":"quorum"}`))
	got := bad.Settings(defaults)
	if got.TTL != defaults.TTL || got.LoopWait != defaults.LoopWait || !got.SynchronousMode {
		t.Errorf("bad values must fall back to defaults (quorum is synchronous): %+v", got)
	}
	if garbage := parseConfig(9, []byte("{")); len(garbage.Data) != 0 {
		t.Errorf("unparseable config: %+v", garbage)
	}
}

func TestFailoverFormat(t *testing.T) {
	raw := fixture(t, "failover.json")
	f := parseFailover(3, raw)
	when := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	if f.Leader != "node1" || f.Member != "node2" || f.ScheduledAt == nil || !f.ScheduledAt.Equal(when) || !f.IsSwitchover() {
		t.Fatalf("read %+v", f)
	}
	if f.Due(when.Add(-time.Second)) || !f.Due(when) {
		t.Error("Due before/at the scheduled time")
	}
	got, err := f.encode()
	if err != nil || got != string(raw) {
		t.Errorf("encoded %s, %v; want %s", got, err, raw)
	}
	legacy := parseFailover(4, []byte("node1: node3"))
	if legacy.Leader != "node1" || legacy.Member != "node3" {
		t.Errorf("legacy form read as %+v", legacy)
	}
	if !parseFailover(5, []byte("{}")).Empty() || !parseFailover(5, []byte("{bad")).Empty() {
		t.Error("an empty or bad request must be empty")
	}
}

func TestSyncFormat(t *testing.T) {
	raw := fixture(t, "sync.json")
	s := parseSync(2, raw)
	if !s.IsSyncStandby("node2") || !s.IsSyncStandby("NODE2") || s.IsSyncStandby("node1") {
		t.Errorf("sync standbys of %+v", s)
	}
	multi := SyncState{Leader: "a", SyncStandby: "b, c"}
	if got := multi.Standbys(); len(got) != 2 || got[1] != "c" {
		t.Errorf("standbys %q", got)
	}
	if (SyncState{SyncStandby: "b"}).IsSyncStandby("b") {
		t.Error("a sync state without leader is empty")
	}
	got, err := s.encode()
	if err != nil || got != string(raw) {
		t.Errorf("encoded %s, %v; want %s", got, err, raw)
	}
}

func TestHistoryFormat(t *testing.T) {
	raw := fixture(t, "history.json")
	h := parseHistory(1, raw)
	if len(h.Entries) != 2 || h.Entries[0].NewLeader != "node2" || h.LastTimeline() != 3 {
		t.Fatalf("read %+v", h)
	}
	if lsn, ok := h.SwitchPoint(2); !ok || lsn != 33554592 {
		t.Errorf("switch point of timeline 2: %d %v", lsn, ok)
	}
	if _, ok := h.SwitchPoint(3); ok {
		t.Error("the current timeline has no switch point")
	}
	b, err := json.Marshal(h.Entries)
	if err != nil || string(b) != string(raw) {
		t.Errorf("encoded %s, %v; want %s", b, err, raw)
	}
	old := parseHistory(2, []byte(`[[1,100,"reason"]]`))
	if len(old.Entries) != 1 || old.Entries[0].LSN != 100 {
		t.Errorf("three-element entries: %+v", old)
	}
	if FormatTime(time.Date(2024, 5, 1, 10, 0, 0, 123456000, time.UTC)) != "2024-05-01T10:00:00.123456+00:00" {
		t.Error("FormatTime differs from Python's isoformat")
	}
}

func TestStatusFormat(t *testing.T) {
	raw := fixture(t, "status.json")
	s := parseStatus(raw)
	if s.Optime != 50331968 || s.Slots["pgkeep_archive"] != 50331968 || len(s.RetainSlots) != 2 {
		t.Fatalf("read %+v", s)
	}
	got, err := s.encode()
	if err != nil || got != string(raw) {
		t.Errorf("encoded %s, %v; want %s", got, err, raw)
	}
	if parseStatus([]byte("12345")).Optime != 12345 {
		t.Error("legacy optime")
	}
	if parseStatus([]byte("{bad")).Optime != 0 {
		t.Error("bad status")
	}
}

func TestKeys(t *testing.T) {
	for _, ns := range []string{"", "/service", "service", "/service/", "//service"} {
		k, err := NewKeys(ns, "main")
		if err != nil {
			t.Fatal(err)
		}
		if k.Leader() != "/service/main/leader" || k.Member("a") != "/service/main/members/a" {
			t.Errorf("namespace %q: %s %s", ns, k.Leader(), k.Member("a"))
		}
	}
	if _, err := NewKeys("/service", "a/b"); err == nil {
		t.Error("cluster name with a slash accepted")
	}
}

func TestLeaseSeconds(t *testing.T) {
	for _, c := range []struct {
		ttl  time.Duration
		want int64
	}{
		{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {30 * time.Second, 30}, {30*time.Second + 1, 31},
	} {
		if got := LeaseSeconds(c.ttl); got != c.want {
			t.Errorf("LeaseSeconds(%s) = %d, want %d (never less than the TTL)", c.ttl, got, c.want)
		}
	}
	if LeaseDuration(LeaseSeconds(7*time.Second)) != 7*time.Second {
		t.Error("round trip")
	}
}
