package e2e

import (
	"testing"
	"time"
)

// The prober's two-primaries check on made-up writes (no servers needed).
func TestProberOverlap(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	w := func(member string, sent, acked int) write {
		return write{member: member, sent: at(sent), acked: at(acked)}
	}
	fail := func(member string, sent int) write { return write{member: member, sent: at(sent)} }
	for _, c := range []struct {
		name    string
		writes  []write
		overlap bool
	}{
		{"one member", []write{w("a", 0, 5), w("a", 10, 15), w("a", 20, 25)}, false},
		{"a then b after a gap", []write{w("a", 0, 5), w("a", 10, 15), fail("a", 20), w("b", 2000, 2005), fail("a", 2010)}, false},
		{"b sent just after a's last ack", []write{w("a", 0, 15), fail("a", 25), w("b", 16, 20)}, false},
		{"failback: a, b, a again", []write{w("a", 0, 5), fail("a", 10), w("b", 100, 105), fail("b", 110), w("a", 120, 125)}, false},
		{"b acked while a's write was in flight", []write{w("a", 0, 15), w("b", 10, 12)}, true},
		{"a acknowledges again while b does", []write{w("a", 0, 5), fail("a", 10), w("b", 100, 105), w("a", 110, 115), w("b", 116, 118)}, true},
		{"interleaved without single overlaps", []write{w("a", 0, 2), w("b", 5, 7), w("a", 10, 12), w("b", 15, 17)}, true},
		{"b sent before a's slow ack", []write{w("b", 100, 101), w("a", 90, 150)}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &haProber{tried: c.writes}
			if err := p.overlap(); (err != nil) != c.overlap {
				t.Fatalf("overlap() = %v, want overlap %v", err, c.overlap)
			}
		})
	}
}
