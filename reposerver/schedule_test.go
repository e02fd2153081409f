package reposerver

import (
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/internal/cron"
)

func mustCron(t *testing.T, expr string) *cron.Schedule {
	t.Helper()
	s, err := cron.Parse(expr)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNextJob(t *testing.T) {
	base := time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC) // a Sunday
	sch := Schedules{
		Full:   mustCron(t, "0 1 * * 0"),
		Diff:   mustCron(t, "0 1 * * 1-6"),
		Incr:   mustCron(t, "0 * * * *"),
		Verify: mustCron(t, "30 3 * * *"),
	}
	hour := time.Hour
	for _, tc := range []struct {
		name     string
		last     lastRuns
		retry    map[string]time.Time
		now      time.Time
		wantJob  string
		wantNext time.Time
	}{
		{name: "nothing ever ran: a full first", now: base, wantJob: JobFull},
		{name: "missed full while down", now: base,
			last: lastRuns{Full: base.Add(-8 * 24 * hour), Verify: base.Add(-hour)}, wantJob: JobFull},
		{name: "incr due on the hour", now: base,
			last: lastRuns{Full: base.Add(-9 * hour), Incr: base.Add(-90 * time.Minute), Verify: base.Add(-hour)}, wantJob: JobIncr},
		{name: "a full counts as the incr", now: base,
			last:     lastRuns{Full: base.Add(-10 * time.Minute), Verify: base.Add(-hour)},
			wantNext: time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)},
		{name: "verify never ran", now: base,
			last: lastRuns{Full: base.Add(-10 * time.Minute)}, wantJob: JobVerify},
		{name: "failed incr waits for its retry", now: base,
			last:     lastRuns{Full: base.Add(-9 * hour), Incr: base.Add(-90 * time.Minute), Verify: base.Add(-hour)},
			retry:    map[string]time.Time{JobIncr: base.Add(20 * time.Second)},
			wantNext: base.Add(20 * time.Second)},
		{name: "retry time passed", now: base.Add(time.Minute),
			last:  lastRuns{Full: base.Add(-9 * hour), Incr: base.Add(-90 * time.Minute), Verify: base.Add(-hour)},
			retry: map[string]time.Time{JobIncr: base.Add(20 * time.Second)}, wantJob: JobIncr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job, next := nextJob(sch, tc.last, tc.retry, tc.now)
			if job != tc.wantJob || (tc.wantJob == "" && !next.Equal(tc.wantNext)) {
				t.Fatalf("got %q next %s, want %q next %s", job, next, tc.wantJob, tc.wantNext)
			}
		})
	}
}

func TestNextJobNothingScheduled(t *testing.T) {
	job, next := nextJob(Schedules{}, lastRuns{}, nil, time.Now())
	if job != "" || !next.IsZero() {
		t.Fatalf("got %q %s", job, next)
	}
}

func TestRetryDelay(t *testing.T) {
	for n, want := range map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 4: 80 * time.Second, 20: 10 * time.Minute} {
		if got := retryDelay(n); got != want {
			t.Errorf("retryDelay(%d) = %s, want %s", n, got, want)
		}
	}
}
