package reposerver

import (
	"sync"
	"time"

	"github.com/pgkeep/pgkeep/pg"
)

// lagTracker turns samples of the server's WAL end into the archive's lag
// in seconds: the age of the oldest sample that the archive has not
// caught up with.
type lagTracker struct {
	mu      sync.Mutex
	samples []lagSample // oldest first, ends non-decreasing
}

type lagSample struct {
	at  time.Time
	end pg.LSN
}

// maxLagSamples bounds the history: a day of one-second samples.
const maxLagSamples = 86400

// observe records the server's end at a time and returns the lag in bytes
// and seconds given what the archive holds.
func (l *lagTracker) observe(at time.Time, end, archived pg.LSN) (bytes int64, seconds float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.samples); n == 0 || end > l.samples[n-1].end {
		l.samples = append(l.samples, lagSample{at, end})
	}
	// Drop what the archive caught up with, and the oldest beyond the bound.
	i := 0
	for i < len(l.samples) && l.samples[i].end <= archived {
		i++
	}
	i = max(i, len(l.samples)-maxLagSamples)
	l.samples = l.samples[i:]
	if end <= archived || len(l.samples) == 0 {
		return 0, 0
	}
	return int64(end - archived), at.Sub(l.samples[0].at).Seconds()
}

// reset forgets the history, when the stream moves to another server.
func (l *lagTracker) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.samples = nil
}
