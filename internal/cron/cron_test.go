package cron

import (
	"strings"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, time.UTC)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNext(t *testing.T) {
	for _, tc := range []struct{ expr, from, want string }{
		{"* * * * *", "2026-11-22 10:15:30", "2026-11-22 10:16:00"},
		{"0 * * * *", "2026-11-22 10:15:00", "2026-11-22 11:00:00"},
		{"0 * * * *", "2026-11-22 10:00:00", "2026-11-22 11:00:00"}, // strictly after
		{"0 1 * * 0", "2026-11-22 10:15:00", "2026-11-29 01:00:00"}, // 2026-11-22 is a Sunday
		{"0 1 * * 7", "2026-11-21 10:15:00", "2026-11-22 01:00:00"},
		{"0 1 * * 1-6", "2026-11-22 00:30:00", "2026-11-23 01:00:00"},
		{"*/15 9-17 * * mon-fri", "2026-11-20 17:50:00", "2026-11-23 09:00:00"},
		{"30 3 1 * *", "2026-12-05 00:00:00", "2027-01-01 03:30:00"},
		{"0 0 29 2 *", "2026-03-01 00:00:00", "2028-02-29 00:00:00"},
		{"0 0 13 * fri", "2026-11-14 00:00:00", "2026-11-20 00:00:00"}, // either day rule
		{"5,10 0 * jan *", "2026-11-22 00:00:00", "2027-01-01 00:05:00"},
		{"@daily", "2026-11-22 10:15:00", "2026-11-23 00:00:00"},
		{"@hourly", "2026-11-22 10:15:00", "2026-11-22 11:00:00"},
		{"@every 30s", "2026-11-22 10:15:07", "2026-11-22 10:15:37"},
		{"10-50/20 * * * *", "2026-11-22 10:31:00", "2026-11-22 10:50:00"},
	} {
		s, err := Parse(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if got := s.Next(at(tc.from)); !got.Equal(at(tc.want)) {
			t.Errorf("%s from %s: got %s, want %s", tc.expr, tc.from, got, tc.want)
		}
	}
}

func TestNeverFires(t *testing.T) {
	s, err := Parse("0 0 30 2 *")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Next(at("2026-01-01 00:00:00")); !got.IsZero() {
		t.Fatalf("February 30th fired at %s", got)
	}
}

func TestParseErrors(t *testing.T) {
	for expr, want := range map[string]string{
		"* * * *":        "want 5 fields",
		"60 * * * *":     "minute: 60 out of range 0-59",
		"* 24 * * *":     "hour: 24 out of range 0-23",
		"* * 0 * *":      "day of month: 0 out of range 1-31",
		"* * * 13 *":     "month: 13 out of range 1-12",
		"* * * * 8":      "day of week: 8 out of range 0-7",
		"* * * * fry":    `day of week: "fry" is not a number`,
		"*/0 * * * *":    "minute: step",
		"5-1 * * * *":    "runs backwards",
		"@every 10":      "@every needs a duration",
		"@every 100ms":   "@every needs a duration",
		"0 1 * * sun,x1": `"x1" is not a number`,
	} {
		_, err := Parse(expr)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error containing %q", expr, err, want)
		}
	}
}
