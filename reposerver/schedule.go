package reposerver

import (
	"time"

	"github.com/pgkeep/pgkeep/internal/cron"
	"github.com/pgkeep/pgkeep/repo"
)

// Jobs the server schedules.
const (
	JobFull   = repo.BackupFull
	JobDiff   = repo.BackupDiff
	JobIncr   = repo.BackupIncr
	JobVerify = "verify"
)

// jobOrder is the order in which due jobs run: a full backup first (it also
// serves as the due diff and incr), verify last.
var jobOrder = []string{JobFull, JobDiff, JobIncr, JobVerify}

// Schedules of the server's jobs; a nil schedule never fires.
type Schedules struct {
	Full, Diff, Incr, Verify *cron.Schedule
}

// of returns the schedule of job.
func (s Schedules) of(job string) *cron.Schedule {
	switch job {
	case JobFull:
		return s.Full
	case JobDiff:
		return s.Diff
	case JobIncr:
		return s.Incr
	case JobVerify:
		return s.Verify
	}
	return nil
}

// any reports whether some job is scheduled.
func (s Schedules) any() bool {
	return s.Full != nil || s.Diff != nil || s.Incr != nil || s.Verify != nil
}

// lastRuns is when each job last ran, as the repository tells: a backup
// counts for its own type and the lesser ones (a full is also the latest
// diff and incr), so that a full never triggers an immediate diff.
type lastRuns struct {
	Full, Diff, Incr, Verify time.Time
}

// of returns the last run of job; zero if it never ran.
func (l lastRuns) of(job string) time.Time {
	switch job {
	case JobFull:
		return l.Full
	case JobDiff:
		return latest(l.Full, l.Diff)
	case JobIncr:
		return latest(l.Full, l.Diff, l.Incr)
	case JobVerify:
		return l.Verify
	}
	return time.Time{}
}

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}

// dueAt is when job is next due: a job that never ran is due at once (a
// missed run too, since its next time has passed); a failed run is due
// again at its retry time. Zero means never.
func dueAt(s *cron.Schedule, last, retry time.Time, now time.Time) time.Time {
	if s == nil {
		return time.Time{}
	}
	due := now
	if !last.IsZero() {
		due = s.Next(last)
		if due.IsZero() {
			return due
		}
	}
	if retry.After(due) {
		due = retry
	}
	return due
}

// nextJob returns the job to run now ("" for none) and, when none is due,
// when the next one is.
func nextJob(s Schedules, last lastRuns, retry map[string]time.Time, now time.Time) (job string, next time.Time) {
	for _, j := range jobOrder {
		due := dueAt(s.of(j), last.of(j), retry[j], now)
		switch {
		case due.IsZero():
		case !due.After(now):
			return j, now
		case next.IsZero() || due.Before(next):
			next = due
		}
	}
	return "", next
}

// retryDelay is how long a job that failed n times in a row waits before
// its next attempt: 10 s doubling to 10 minutes.
func retryDelay(n int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < n && d < 10*time.Minute; i++ {
		d *= 2
	}
	return min(d, 10*time.Minute)
}
