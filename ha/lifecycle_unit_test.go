package ha

import (
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg"
)

func TestStallWatch(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const timeout = 10 * time.Second
	type step struct {
		at       pg.LSN
		leaderAt uint64
		after    time.Duration
		stalled  bool
	}
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"receiving or replaying is progress", []step{{100, 500, 0, false}, {200, 500, 9 * time.Second, false},
			{300, 500, 18 * time.Second, false}, {400, 500, 27 * time.Second, false}}},
		{"not moving for the timeout while behind stalls", []step{{100, 500, 0, false}, {100, 500, 9 * time.Second, false},
			{100, 500, 10 * time.Second, true}}},
		{"caught up with the leader (idle) does not stall", []step{{500, 500, 0, false}, {500, 500, time.Hour, false}}},
		{"moving again resets the clock", []step{{100, 500, 0, false}, {150, 500, 9 * time.Second, false},
			{150, 500, 18 * time.Second, false}, {150, 500, 19 * time.Second, true}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var w stallWatch
			for i, s := range tt.steps {
				var stalled bool
				w, stalled = w.observe(s.at, s.leaderAt, t0.Add(s.after), timeout)
				if stalled != s.stalled {
					t.Fatalf("step %d (%+v): stalled %v", i, s, stalled)
				}
			}
		})
	}
}

func TestBootRetryBacksOff(t *testing.T) {
	var b bootRetry
	var waits []time.Duration
	for range 12 {
		b.failed(time.Second)
		waits = append(waits, time.Until(b.retryAt).Round(time.Second))
	}
	if waits[0] != 2*time.Second || waits[1] != 4*time.Second || waits[11] != maxBootBackoff {
		t.Fatalf("waits %v: want 2s, 4s, ... up to %s", waits, maxBootBackoff)
	}
}
