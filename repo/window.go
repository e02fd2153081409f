package repo

import (
	"fmt"
	"time"

	"github.com/pgkeep/pgkeep/pg"
)

// BackupWindow is the stretch of history a backup can be recovered to:
// from its own consistency point (the end of the backup) to the end of the
// contiguous archived WAL after it, along the path to Timeline.
type BackupWindow struct {
	Label     string    `json:"label"`
	Timeline  uint32    `json:"timeline"` // the timeline recovery ends on
	StartLSN  pg.LSN    `json:"-"`
	StartTime time.Time `json:"start-time"`
	EndLSN    pg.LSN    `json:"-"`
	EndTime   time.Time `json:"end-time"`
	// EndIsLastCommit: EndTime is the time of the last commit or abort in
	// the WAL; otherwise it is when the newest WAL was archived, a bound.
	EndIsLastCommit bool `json:"end-is-last-commit"`
	// Restorable: the WAL from the backup's start to its stop is archived.
	Restorable bool `json:"restorable"`
	// Problem says why the backup is not restorable or cannot reach Timeline.
	Problem string `json:"problem,omitempty"`
}

// Window computes how far backup m can be recovered towards timeline to (0:
// the latest timeline in the archive, as recovery_target_timeline=latest).
func (idx *WALIndex) Window(m *Manifest, to uint32) BackupWindow {
	if to == 0 {
		to = max(idx.LatestTimeline(), m.Timeline)
	}
	w := BackupWindow{Label: m.Label, Timeline: to, StartTime: ceilMicrosecond(m.StopTime)}
	if !idx.system(m) {
		w.Problem = fmt.Sprintf("backup of system identifier %d, this WAL is of %d", m.SystemID, idx.SystemID)
		return w
	}
	start, err1 := pg.ParseLSN(m.StartLSN)
	stop, err2 := pg.ParseLSN(m.StopLSN)
	if err1 != nil || err2 != nil {
		w.Problem = fmt.Sprintf("manifest has bad LSNs %q/%q", m.StartLSN, m.StopLSN)
		return w
	}
	w.StartLSN = stop
	end, endTime, lastCommit, err := idx.Reach(m.Timeline, start, to)
	if err != nil {
		w.Problem = err.Error()
		return w
	}
	// No commit after the backup's end: no time target can be reached
	// (an empty window, not one that ends before it starts).
	if endTime.Before(w.StartTime) {
		endTime = w.StartTime
	}
	w.EndLSN, w.EndTime, w.EndIsLastCommit = end, endTime, lastCommit
	if end < stop {
		missing := pg.SegmentOf(m.Timeline, end, idx.SegSize)
		w.Problem = fmt.Sprintf("WAL segment %s, needed to make the backup consistent (up to %s), is not archived", missing, stop)
		return w
	}
	w.Restorable = true
	return w
}

// system reports whether m is a backup of the system whose WAL idx holds.
func (idx *WALIndex) system(m *Manifest) bool {
	return idx.SystemID == 0 || m.SystemID == 0 || m.SystemID == idx.SystemID
}

// Contains reports whether recovery from this backup can reach a target
// time (zero: no time given) and LSN (zero: no LSN given). A time target
// must be before EndTime: recovery stops at the first commit after the
// target, and EndTime is the last commit's time (or later).
func (w BackupWindow) Contains(t time.Time, lsn pg.LSN) bool {
	if !w.Restorable {
		return false
	}
	if !t.IsZero() && (t.Before(w.StartTime) || !t.Before(w.EndTime)) {
		return false
	}
	if lsn != 0 && (lsn < w.StartLSN || lsn > w.EndLSN) {
		return false
	}
	return true
}

// ceilMicrosecond rounds t up to PostgreSQL's resolution, so that the
// window's start, printed as PostgreSQL prints times, is inside it.
func ceilMicrosecond(t time.Time) time.Time {
	if r := t.Truncate(time.Microsecond); !r.Equal(t) {
		return r.Add(time.Microsecond)
	}
	return t
}

// windowTime is RFC 3339 with the microseconds PostgreSQL timestamps have.
const windowTime = "2006-01-02T15:04:05.999999Z07:00"

// String renders the window for messages.
func (w BackupWindow) String() string {
	return fmt.Sprintf("%s: %s (%s) to %s (%s) on timeline %d", w.Label,
		w.StartTime.Format(windowTime), w.StartLSN, w.EndTime.Format(windowTime), w.EndLSN, w.Timeline)
}
