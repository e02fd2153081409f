package basebackup

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// progress prints "bytes, rate, ETA" on a terminal every half second.
type progress struct {
	w     io.Writer
	total int64
	done  atomic.Int64
	start time.Time
	quit  chan struct{}
	ended chan struct{}
}

func startProgress(w io.Writer, total int64) *progress {
	p := &progress{w: w, total: total, start: time.Now(), quit: make(chan struct{}), ended: make(chan struct{})}
	if w == nil {
		close(p.ended)
		return p
	}
	go func() {
		defer close(p.ended)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				p.print()
				fmt.Fprintln(p.w)
				return
			case <-t.C:
				p.print()
			}
		}
	}()
	return p
}

func (p *progress) add(n int) { p.done.Add(int64(n)) }

func (p *progress) print() {
	done := p.done.Load()
	secs := time.Since(p.start).Seconds()
	rate := float64(done) / max(secs, 0.001)
	line := fmt.Sprintf("\r%8.1f MB  %7.1f MB/s", float64(done)/1e6, rate/1e6)
	if p.total > done && rate > 0 {
		line += fmt.Sprintf("  ~%.0f%%  ETA %s", 100*float64(done)/float64(p.total),
			time.Duration(float64(p.total-done)/rate*float64(time.Second)).Round(time.Second))
	}
	fmt.Fprintf(p.w, "%-60s", line)
}

func (p *progress) stop() {
	select {
	case <-p.quit:
	default:
		if p.w != nil {
			close(p.quit)
		}
	}
	<-p.ended
}
