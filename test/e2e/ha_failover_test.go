package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// haTTL is the agents' default ttl: a primary cut off from etcd must stop
// accepting writes within it.
const haTTL = 3 * time.Second

// TestHAFailover runs three `pgkeep ha` processes and fails the primary
// three ways in turn, while a prober writes to every member every 10 ms:
// kill -9 of the primary's PostgreSQL, kill -9 of the whole member (agent
// and PostgreSQL), and a cut between the primary's agent and etcd. Each
// time a new primary must accept writes and the old one rejoin as a
// replica without manual steps; two members never accept writes at the
// same instant. Durations are logged, not asserted (the machine is shared).
func TestHAFailover(t *testing.T) {
	c := startBridgedCluster(t, 3)
	probe := startProber(t, c.members...)
	p := c.primary(t, 10*time.Second)
	waitWrites(t, probe, p, time.Time{})

	t.Run("kill -9 the primary's postgres", func(t *testing.T) {
		p.pg.Kill(t)
		killed := time.Now() // the server is gone (a write sent during Kill may still be acknowledged)
		next, first := c.failedOver(t, probe, killed, nil)
		t.Logf("kill -9 of %s's postgres to the first write on %s: %s", p.name, next.name, first.acked.Sub(killed).Round(time.Millisecond))
		if next == p {
			// Its agent restarted PostgreSQL as a standby, found it the most
			// advanced (or tied, and first by name) and took the key again.
			t.Logf("%s's agent restarted its PostgreSQL and won the election again", p.name)
		} else {
			t.Logf("acknowledged writes on %s lost (asynchronous replication): %d", p.name, len(probe.lost(t, p.name, killed, next)))
		}
		for _, m := range c.others(next) {
			waitRejoined(t, 90*time.Second, m, next)
			t.Logf("%s follows %s on its timeline %s after the kill (rewinds decided so far: %d)", m.name, next.name, time.Since(killed).Round(time.Millisecond), m.rewinds())
		}
		p = next
	})
	if t.Failed() {
		return
	}
	t.Run("kill -9 the whole primary member", func(t *testing.T) {
		p.kill()
		p.pg.Kill(t)
		killed := time.Now()
		next, first := c.failedOver(t, probe, killed, p)
		t.Logf("kill -9 of member %s to the first write on %s: %s", p.name, next.name, first.acked.Sub(killed).Round(time.Millisecond))
		t.Logf("acknowledged writes on %s lost (asynchronous replication): %d", p.name, len(probe.lost(t, p.name, killed, next)))
		restarted := time.Now()
		p.start(t, t.Context(), nil)
		waitRejoined(t, 90*time.Second, p, next)
		t.Logf("%s rejoined as a replica %s after its agent was restarted (rewinds decided so far: %d)", p.name, time.Since(restarted).Round(time.Millisecond), p.rewinds())
		p = next
	})
	if t.Failed() {
		return
	}
	t.Run("cut the primary's agent off from etcd", func(t *testing.T) {
		cut := time.Now()
		p.bridge.Cut()
		p.waitCheck(t, 2*haTTL, "/primary", http.StatusServiceUnavailable)
		next, first := c.failedOver(t, probe, cut, p)
		last := probe.lastAck(p.name)
		t.Logf("cut at 0: %s's last acknowledged write at %s, %s's first at %s (ttl %s)", p.name,
			last.acked.Sub(cut).Round(time.Millisecond), next.name, first.acked.Sub(cut).Round(time.Millisecond), haTTL)
		if last.acked.Sub(cut) >= haTTL {
			t.Errorf("%s still accepted a write %s after the cut, not before the ttl %s ended", p.name, last.acked.Sub(cut), haTTL)
		}
		healed := time.Now()
		p.bridge.Heal(t)
		waitRejoined(t, 90*time.Second, p, next)
		took := time.Since(healed)
		t.Logf("%s rejoined as a replica %s after the bridge was healed (rewinds decided so far: %d)", p.name, took.Round(time.Millisecond), p.rewinds())
		if took > 10*time.Second {
			t.Logf("slow rejoin; %s's agent log (tail):\n%s", p.name, p.logTail())
		}
	})
	probe.stop()
	if err := probe.overlap(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d acknowledged writes, no two members accepted writes at the same instant", len(probe.writes("")))
}

// failedOver waits until exactly one member answers /primary and has
// acknowledged a write sent after since, and returns it and that write.
// That member may not be old (nil: any).
func (c *bridgedCluster) failedOver(t *testing.T, probe *haProber, since time.Time, old *haNode) (*haNode, write) {
	t.Helper()
	var found *haNode
	var first write
	harness.Wait(t, 60*time.Second, "a primary that accepts writes", func() (bool, error) {
		var leaders []string
		found = nil
		for _, m := range c.members {
			if m.check("/primary") == http.StatusOK {
				leaders, found = append(leaders, m.name), m
			}
		}
		if len(leaders) != 1 || found == old {
			return false, fmt.Errorf("members answering /primary: %v", leaders)
		}
		first = probe.firstAfter(found.name, since)
		return !first.acked.IsZero(), fmt.Errorf("no write acknowledged by %s yet", found.name)
	})
	return found, first
}

// waitWrites waits until the prober has a write acknowledged by m that was
// sent after since, and returns the first such write.
func waitWrites(t *testing.T, probe *haProber, m *haNode, since time.Time) write {
	t.Helper()
	var w write
	harness.Wait(t, 30*time.Second, "a write acknowledged by "+m.name, func() (bool, error) {
		w = probe.firstAfter(m.name, since)
		return !w.acked.IsZero(), nil
	})
	return w
}
