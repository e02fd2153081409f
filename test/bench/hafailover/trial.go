package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// trial is what one trial measured.
type trial struct {
	n          int
	err        string
	oldPrimary string
	newPrimary string
	failover   time.Duration // kill -9 of the primary member to the first write on the new primary
	rejoin     time.Duration // restart of the killed member's agent to it streaming from the new primary
	acked      int           // writes the old primary acknowledged
	lost       int           // of those, missing on the new primary
	rssKB      []int64       // each agent's RSS before the kill
	cpuPct     []float64     // each agent's CPU over the idle window, % of one core
}

// trial runs one trial of agent.
func (b *bench) trial(ctx context.Context, agent string, n int) (trial, error) {
	tr := trial{n: n}
	ms, err := b.setup(ctx, agent, n)
	defer b.teardown(ms)
	if err != nil {
		return tr, err
	}
	primary, err := b.healthy(ctx, ms, 3*time.Minute)
	if err != nil {
		return tr, err
	}
	if err := createTable(ctx, primary); err != nil {
		return tr, err
	}
	b.idle(ctx, ms, &tr)

	w := startWriter(ctx, ms)
	defer w.stop()
	time.Sleep(b.o.warm)
	tr.oldPrimary = primary.name
	_ = primary.agent.Process.Kill()
	<-primary.done
	if err := killPostmaster(primary.data); err != nil {
		return tr, fmt.Errorf("kill the postmaster of %s: %w", primary.name, err)
	}
	killed := time.Now()
	progress("killed %s (agent and PostgreSQL)", primary.name)

	var next *member
	var first write
	err = waitFor(b.o.timeout, "a write on a new primary", func() error {
		for _, m := range ms {
			if m == primary {
				continue
			}
			if f := w.firstAfter(m.name, killed); !f.acked.IsZero() {
				next, first = m, f
				return nil
			}
		}
		return fmt.Errorf("no write acknowledged by another member since the kill")
	})
	if err != nil {
		return tr, err
	}
	tr.newPrimary, tr.failover = next.name, first.acked.Sub(killed)
	progress("%s accepted a write %s after the kill", next.name, tr.failover.Round(time.Millisecond))
	time.Sleep(time.Second)
	if tr.acked, tr.lost, err = w.lost(ctx, primary.name, next); err != nil {
		return tr, err
	}

	removeStaleLock(primary)
	restarted := time.Now()
	if err := primary.startAgent(agent, b.o.pgbin, b.o.pgkeep); err != nil {
		return tr, err
	}
	err = waitFor(b.o.timeout, primary.name+" to rejoin as a streaming replica of "+next.name, func() error {
		if primary.check("/replica") != 200 || primary.timeline() != next.timeline() {
			return fmt.Errorf("not a replica on the new timeline yet")
		}
		v, err := next.query(ctx, "SELECT count(*)::text FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'", primary.name)
		if err != nil || v != "1" {
			return fmt.Errorf("not streaming (%v)", err)
		}
		return nil
	})
	if err != nil {
		return tr, err
	}
	tr.rejoin = time.Since(restarted)
	progress("%s rejoined %s after its agent was restarted", primary.name, tr.rejoin.Round(time.Millisecond))
	return tr, nil
}

// createTable creates the writer's table on the primary.
func createTable(ctx context.Context, primary *member) error {
	c, err := primary.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, "CREATE TABLE IF NOT EXISTS bench_w (seq bigint PRIMARY KEY, member text, at timestamptz DEFAULT clock_timestamp())")
	return err
}

// idle measures each agent's CPU over the idle window and its RSS.
func (b *bench) idle(ctx context.Context, ms []*member, tr *trial) {
	before := make([]int64, len(ms))
	for i, m := range ms {
		before[i] = cpuTicks(m.agent.Process.Pid)
	}
	start := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(b.o.idle):
	}
	secs := time.Since(start).Seconds()
	for i, m := range ms {
		pid := m.agent.Process.Pid
		tr.cpuPct = append(tr.cpuPct, float64(cpuTicks(pid)-before[i])/100/secs*100)
		tr.rssKB = append(tr.rssKB, rssKB(pid))
	}
}

// removeStaleLock removes the lock files of a killed postmaster that no
// one reaped (a zombie of a container's init): PostgreSQL would not start.
func removeStaleLock(m *member) {
	pid, err := postmasterPID(m.data)
	if err != nil {
		return
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(pid) {
		return
	}
	_ = os.Remove(filepath.Join(m.data, "postmaster.pid"))
	for _, dir := range []string{m.dir, filepath.Join(filepath.Dir(filepath.Dir(m.dir)), "pgkeep-sockets")} {
		_ = os.Remove(filepath.Join(dir, fmt.Sprintf(".s.PGSQL.%d.lock", m.pgPort)))
	}
}
