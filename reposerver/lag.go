package reposerver

import (
	"sync"
	"time"

	"github.com/pgkeep/pgkeep/pg"
)

// lagTracker turns samples of the server's WAL end into the archive's lag
// in seconds: how long ago the server wrote the first byte the archive does
// not hold yet. That instant lies between the last sample the archive has
// caught up with and the first it has not; it is interpolated linearly
// between the two.
type lagTracker struct {
	mu      sync.Mutex
	samples []lagSample // oldest first, ends increasing
}

// lagSample: the server's WAL ended at end from first until at least last.
type lagSample struct {
	first, last time.Time
	end         pg.LSN
}

// maxLagSamples bounds the history: a day of one-second samples.
const maxLagSamples = 86400

// observe records the server's end at a time and returns the lag in bytes
// and seconds given what the archive holds.
func (l *lagTracker) observe(at time.Time, end, archived pg.LSN) (bytes int64, seconds float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.samples); n > 0 && end <= l.samples[n-1].end {
		l.samples[n-1].last = at
	} else {
		l.samples = append(l.samples, lagSample{at, at, end})
	}
	// Drop what the archive caught up with but keep the newest such
	// sample as the lower bound, and drop the oldest beyond the bound.
	i := 0
	for i+1 < len(l.samples) && l.samples[i+1].end <= archived {
		i++
	}
	i = max(i, len(l.samples)-maxLagSamples)
	l.samples = l.samples[i:]
	if end <= archived {
		return 0, 0
	}
	return int64(end - archived), at.Sub(l.pendingSince(archived)).Seconds()
}

// pendingSince estimates when the server wrote the byte after archived.
func (l *lagTracker) pendingSince(archived pg.LSN) time.Time {
	done := l.samples[0]
	if done.end > archived || len(l.samples) == 1 {
		return done.first // nothing older known: as old as the oldest sample
	}
	next := l.samples[1]
	frac := float64(archived-done.end) / float64(next.end-done.end)
	return done.last.Add(time.Duration(frac * float64(next.first.Sub(done.last))))
}

// reset forgets the history, when the stream moves to another server.
func (l *lagTracker) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.samples = nil
}
