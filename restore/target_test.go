package restore

import (
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	local := time.FixedZone("test", -3*3600)
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2026-11-22T09:00:00Z", utc("2026-11-22T09:00:00Z")},
		{"2026-11-22T09:00:00.5+01:00", utc("2026-11-22T08:00:00.5Z")},
		{"2026-11-22 09:00:00+00", utc("2026-11-22T09:00:00Z")},
		{"2026-11-22 09:00:00.123456+05:30", utc("2026-11-22T03:30:00.123456Z")},
		{"2026-11-22 09:00:00-0800", utc("2026-11-22T17:00:00Z")},
		{"2026-11-22 09:00:00 UTC", utc("2026-11-22T09:00:00Z")},
		{"2026-11-22 09:00:00", utc("2026-11-22T12:00:00Z")}, // local time
		{"2026-11-22T09:00:00", utc("2026-11-22T12:00:00Z")},
	} {
		got, err := ParseTime(tc.in, local)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2026-11-22", "2026-13-01 00:00:00", "2026-11-22 25:00:00",
		"2026-11-22 09:00:00+16", "2026-11-22 09:00:00+05:75", "2026-11-22 09:00:00 +00 x"} {
		if _, err := ParseTime(bad, local); !IsUsage(err) {
			t.Errorf("ParseTime(%q): %v, want a usage error", bad, err)
		}
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec TargetSpec
		want string // Describe(), or the start of the error
		err  bool
	}{
		{"none", TargetSpec{}, "no target (the end of the archive), timeline latest", false},
		{"time", TargetSpec{Time: "2026-11-22 09:00:00+00"}, "target time 2026-11-22 09:00:00+00, then promote, timeline latest", false},
		{"lsn", TargetSpec{LSN: "0/5000100", Action: "pause", Timeline: "current"}, "target LSN 0/5000100, then pause, timeline current", false},
		{"xid", TargetSpec{XID: "1234", Exclusive: true, Timeline: "2"}, "target xid 1234, then promote, timeline 2", false},
		{"name", TargetSpec{Name: "before-upgrade", Action: "shutdown"}, `target name "before-upgrade", then shutdown, timeline latest`, false},
		{"immediate", TargetSpec{Immediate: true}, "target immediate (the end of the backup), then promote, timeline latest", false},
		{"two targets", TargetSpec{Time: "2026-11-22 09:00:00+00", LSN: "0/1"}, "only one recovery target may be given, not --target-time and --target-lsn", true},
		{"bad time", TargetSpec{Time: "tomorrow"}, `time "tomorrow"`, true},
		{"bad lsn", TargetSpec{LSN: "5000100"}, `--target-lsn "5000100"`, true},
		{"lsn garbage", TargetSpec{LSN: "0/5000100x"}, `--target-lsn "0/5000100x"`, true},
		{"bad xid", TargetSpec{XID: "-1"}, `--target-xid "-1"`, true},
		{"long name", TargetSpec{Name: strings.Repeat("n", 64)}, "--target-name", true},
		{"bad action", TargetSpec{Immediate: true, Action: "stop"}, `--target-action "stop"`, true},
		{"action without target", TargetSpec{Action: "pause"}, "--target-action pause needs a recovery target", true},
		{"bad timeline", TargetSpec{Timeline: "newest"}, `--target-timeline "newest"`, true},
		{"timeline 0", TargetSpec{Timeline: "0"}, `--target-timeline "0"`, true},
		{"exclusive name", TargetSpec{Name: "x", Exclusive: true}, "--target-exclusive needs", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTarget(tc.spec, time.UTC)
			switch {
			case tc.err && !IsUsage(err):
				t.Fatalf("err %v, want a usage error", err)
			case tc.err && !strings.HasPrefix(err.Error(), tc.want):
				t.Fatalf("err %q, want %q...", err, tc.want)
			case !tc.err && err != nil:
				t.Fatal(err)
			case !tc.err && got.Describe() != tc.want:
				t.Fatalf("%q, want %q", got.Describe(), tc.want)
			}
		})
	}
}

func TestTimelineFor(t *testing.T) {
	for spec, want := range map[string]uint32{"latest": 0, "current": 3, "5": 5} {
		tg, err := ParseTarget(TargetSpec{Timeline: spec}, time.UTC)
		if err != nil || tg.timelineFor(3) != want {
			t.Errorf("%s: %d, %v", spec, tg.timelineFor(3), err)
		}
	}
}
