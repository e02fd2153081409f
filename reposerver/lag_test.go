package reposerver

import (
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg"
)

func TestLagTracker(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	sec := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Second))) }
	steps := []struct {
		at            time.Time
		end, archived pg.LSN
		bytes         int64
		seconds       float64
	}{
		{sec(0), 100, 0, 100, 0},     // first sample: nothing older known
		{sec(1), 200, 150, 50, 0.5},  // byte 151 written halfway between t0 and t0+1s
		{sec(2), 300, 200, 100, 1},   // archive at the t0+1s sample exactly
		{sec(3), 300, 300, 0, 0},     // caught up; the server still at 300
		{sec(4), 400, 300, 100, 1},   // so byte 301 came after t0+3s
		{sec(10), 400, 300, 100, 7},  // still nothing archived: the lag grows
		{sec(11), 500, 450, 50, 0.5}, // 401..500 written between t0+10s and t0+11s
	}
	var l lagTracker
	for i, s := range steps {
		b, secs := l.observe(s.at, s.end, s.archived)
		if b != s.bytes || secs != s.seconds {
			t.Errorf("step %d: observe(%v, %d, %d) = %d bytes, %.3f s; want %d, %.3f", i, s.at.Sub(t0), s.end, s.archived, b, secs, s.bytes, s.seconds)
		}
	}
}

func TestLagTrackerReset(t *testing.T) {
	var l lagTracker
	t0 := time.Now()
	l.observe(t0, 100, 0)
	l.reset()
	if _, s := l.observe(t0.Add(time.Second), 100, 0); s != 0 {
		t.Errorf("after reset: lag %.3f s, want 0 (history forgotten)", s)
	}
}
