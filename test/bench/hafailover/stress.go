package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// stressResult is what one run under pgbench saw.
type stressResult struct {
	err      string
	tps      string
	changes  int           // times the member answering /primary changed
	noLeader time.Duration // longest time no member answered /primary
	samples  int
}

// stress runs pgbench (CLIENTS connections, 2 threads) against the primary
// of a fresh cluster for d and watches every 200 ms which member answers
// /primary: any change is a false failover (nothing failed).
func (b *bench) stress(ctx context.Context, agent string, d time.Duration, clients int) stressResult {
	var r stressResult
	ms, err := b.setup(ctx, agent, 0)
	defer b.teardown(ms)
	if err != nil {
		r.err = err.Error()
		return r
	}
	primary, err := b.healthy(ctx, ms, 3*time.Minute)
	if err != nil {
		r.err = err.Error()
		return r
	}
	pgbench := func(args ...string) *exec.Cmd {
		base := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(primary.pgPort), "-U", "postgres"}
		return exec.CommandContext(ctx, filepath.Join(b.o.pgbin, "pgbench"), append(base, args...)...)
	}
	if out, err := pgbench("-i", "-s", "10", "-q", "postgres").CombinedOutput(); err != nil {
		r.err = fmt.Sprintf("pgbench -i: %v: %s", err, out)
		return r
	}
	run := pgbench("-n", "-c", strconv.Itoa(clients), "-j", "2", "-T", strconv.Itoa(int(d.Seconds())), "postgres")
	out := make(chan []byte, 1)
	go func() { o, _ := run.CombinedOutput(); out <- o }()
	leader, since := primary.name, time.Now()
	var none time.Time
	for {
		select {
		case o := <-out:
			r.tps = tpsOf(string(o))
			return r
		case <-time.After(200 * time.Millisecond):
		}
		r.samples++
		now := ""
		for _, m := range ms {
			if m.check("/primary") == 200 {
				now = m.name
			}
		}
		switch {
		case now == "" && none.IsZero():
			none = time.Now()
		case now != "":
			if !none.IsZero() {
				r.noLeader = max(r.noLeader, time.Since(none))
				none = time.Time{}
			}
			if now != leader {
				r.changes++
				progress("%s: the primary changed from %s to %s under pgbench, %s after the start", agent, leader, now, time.Since(since).Round(time.Second))
				leader = now
			}
		}
	}
}

// tpsOf picks pgbench's "tps = N" figure.
func tpsOf(out string) string {
	var tps float64
	for i := 0; i+6 < len(out); i++ {
		if out[i:i+6] == "tps = " {
			fmt.Sscanf(out[i+6:], "%f", &tps)
			return fmt.Sprintf("%.0f", tps)
		}
	}
	return "?"
}
