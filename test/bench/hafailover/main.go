// Command hafailover measures the failover of a three-member PostgreSQL 15
// cluster run by `pgkeep ha` or by Patroni, on one machine, against one
// etcd (Debian's binary, started here): per trial, a fresh cluster, the
// agents' idle CPU and RSS, then a writer on every member every 10 ms, kill
// -9 of the primary member (agent and PostgreSQL), the time to the first
// acknowledged write on the new primary, the acknowledged writes lost, and
// the time the killed member's restarted agent takes to rejoin as a
// streaming replica. It prints Markdown. test/bench/ha_failover.sh runs it
// (as the postgres OS user when root: pg_ctl and Patroni refuse root).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type options struct {
	agents  []string
	trials  int
	pgkeep  string
	pgbin   string
	work    string
	idle    time.Duration
	warm    time.Duration
	timeout time.Duration
	stress  time.Duration // pgbench run for the false-failover check (0: none)
	clients int
	// Patroni's timings (bootstrap.dcs).
	pttl, ploop, pretry int
}

func main() {
	var o options
	var agents string
	flag.StringVar(&agents, "agents", "pgkeep,patroni", "agents to measure, in order")
	flag.IntVar(&o.trials, "trials", 10, "trials per agent")
	flag.StringVar(&o.pgkeep, "pgkeep", "bin/pgkeep", "the pgkeep binary")
	flag.StringVar(&o.pgbin, "pgbin", "/usr/lib/postgresql/15/bin", "PostgreSQL 15 programs")
	flag.StringVar(&o.work, "work", "", "work directory (required; emptied)")
	flag.DurationVar(&o.idle, "idle", 5*time.Second, "idle window for the agents' CPU")
	flag.DurationVar(&o.warm, "warm", 2*time.Second, "writes before the kill")
	flag.DurationVar(&o.timeout, "timeout", 120*time.Second, "longest wait for a failover or a rejoin")
	flag.DurationVar(&o.stress, "stress", 0, "after the trials, run pgbench this long on a fresh cluster per agent and count false failovers")
	flag.IntVar(&o.clients, "clients", 8, "pgbench clients for -stress")
	flag.IntVar(&o.pttl, "patroni-ttl", 10, "Patroni ttl")
	flag.IntVar(&o.ploop, "patroni-loop-wait", 2, "Patroni loop_wait")
	flag.IntVar(&o.pretry, "patroni-retry-timeout", 3, "Patroni retry_timeout")
	flag.Parse()
	o.agents = strings.Split(agents, ",")
	if o.work == "" {
		log.Fatal("hafailover: -work is required")
	}
	if os.Geteuid() == 0 {
		log.Fatal("hafailover: run as the postgres OS user, not root (pg_ctl and Patroni refuse root)")
	}
	var err error
	if o.pgkeep, err = filepath.Abs(o.pgkeep); err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		log.Fatalf("hafailover: %v", err)
	}
}

// run measures every agent and prints the report.
func run(ctx context.Context, o options) error {
	if err := os.RemoveAll(o.work); err != nil {
		return err
	}
	if err := os.MkdirAll(o.work, 0o700); err != nil {
		return err
	}
	etcd, err := startEtcd(o.work)
	if err != nil {
		return err
	}
	defer etcd.stop()
	b := &bench{o: o, etcd: etcd.endpoint, ports: newPorts()}
	results := map[string][]trial{}
	for _, agent := range o.agents {
		for i := 1; i <= o.trials && ctx.Err() == nil; i++ {
			progress("%s trial %d/%d", agent, i, o.trials)
			tr, err := b.trial(ctx, agent, i)
			if err != nil {
				progress("%s trial %d failed: %v", agent, i, err)
				tr.err = err.Error()
			}
			results[agent] = append(results[agent], tr)
		}
	}
	stressed := map[string]stressResult{}
	for _, agent := range o.agents {
		if o.stress > 0 && ctx.Err() == nil {
			progress("%s under pgbench for %s", agent, o.stress)
			stressed[agent] = b.stress(ctx, agent, o.stress, o.clients)
		}
	}
	report(os.Stdout, o, results)
	reportStress(os.Stdout, o, stressed)
	return ctx.Err()
}

// progress logs to stderr with the time.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
