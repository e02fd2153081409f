package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// summary is one agent's figures over its successful trials.
type summary struct {
	ok                         int
	failMed, failMin, failMax  float64
	rejMed, rejMax             float64
	lost, acked                int
	rssMedMB, rssMaxMB, cpuMed float64
}

func summarize(ts []trial) summary {
	var s summary
	var fail, rej, rss, cpu []float64
	for _, t := range ts {
		for _, r := range t.rssKB {
			rss = append(rss, float64(r)/1024)
		}
		cpu = append(cpu, t.cpuPct...)
		if t.err != "" {
			continue
		}
		s.ok++
		fail = append(fail, t.failover.Seconds())
		rej = append(rej, t.rejoin.Seconds())
		s.lost += t.lost
		s.acked += t.acked
	}
	s.failMed, s.failMin, s.failMax = median(fail), minOf(fail), maxOf(fail)
	s.rejMed, s.rejMax = median(rej), maxOf(rej)
	s.rssMedMB, s.rssMaxMB, s.cpuMed = median(rss), maxOf(rss), median(cpu)
	return s
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Sorted(slices.Values(v))
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func minOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Min(v)
}

func maxOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Max(v)
}

// report prints the Markdown report.
func report(w io.Writer, o options, results map[string][]trial) {
	fmt.Fprintf(w, "Timings: pgkeep ha defaults (ttl 3s, loop-wait 1s, retry-timeout 2s); Patroni ttl %d, loop_wait %d, retry_timeout %d (its defaults: 30, 10, 10).\n\n",
		o.pttl, o.ploop, o.pretry)
	if o.trials == 0 {
		return
	}
	fmt.Fprintln(w, "| agent | trials ok | failover median (s) | range (s) | rejoin median (s) | rejoin max (s) | acknowledged writes lost | agent RSS median / max (MB) | agent idle CPU median (% of a core) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	sums := map[string]summary{}
	for _, agent := range o.agents {
		s := summarize(results[agent])
		sums[agent] = s
		fmt.Fprintf(w, "| %s | %d/%d | %.2f | %.2f-%.2f | %.2f | %.2f | %d of %d | %.1f / %.1f | %.2f |\n", agent, s.ok, len(results[agent]),
			s.failMed, s.failMin, s.failMax, s.rejMed, s.rejMax, s.lost, s.acked, s.rssMedMB, s.rssMaxMB, s.cpuMed)
	}
	if p, k := sums["patroni"], sums["pgkeep"]; p.ok > 0 && k.ok > 0 && k.failMed > 0 {
		fmt.Fprintf(w, "\nMedian failover: Patroni %.2f s / pgkeep %.2f s = %.1fx.\n", p.failMed, k.failMed, p.failMed/k.failMed)
	}
	fmt.Fprintln(w, "\nPer trial:\n\n| agent | trial | killed | new primary | failover (s) | rejoin (s) | acked by the old primary | lost | RSS (MB) | idle CPU (%) | error |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, agent := range o.agents {
		for _, t := range results[agent] {
			var rss, cpu []string
			for i := range t.rssKB {
				rss = append(rss, fmt.Sprintf("%.1f", float64(t.rssKB[i])/1024))
				cpu = append(cpu, fmt.Sprintf("%.2f", t.cpuPct[i]))
			}
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %d | %d | %s | %s | %s |\n", agent, t.n, t.oldPrimary, t.newPrimary,
				secs(t.failover), secs(t.rejoin), t.acked, t.lost, strings.Join(rss, " "), strings.Join(cpu, " "), strings.ReplaceAll(t.err, "|", "/"))
		}
	}
}

func secs(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", d.Seconds())
}

// reportStress prints the false-failover check.
func reportStress(w io.Writer, o options, res map[string]stressResult) {
	if len(res) == 0 {
		return
	}
	fmt.Fprintf(w, "\nUnder load (pgbench -c %d -j 2 for %s on the primary of a fresh cluster, scale 10; /primary of every member polled every 200 ms):\n\n", o.clients, o.stress)
	fmt.Fprintln(w, "| agent | TPS | primary changes (false failovers) | longest time without a primary (s) | samples | error |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, agent := range o.agents {
		if r, ok := res[agent]; ok {
			fmt.Fprintf(w, "| %s | %s | %d | %.1f | %d | %s |\n", agent, r.tps, r.changes, r.noLeader.Seconds(), r.samples, strings.ReplaceAll(r.err, "|", "/"))
		}
	}
}
