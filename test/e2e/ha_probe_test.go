package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// write is one INSERT a prober tried: to which member, its number, when it
// was sent and when the member acknowledged it (zero: it failed, or the
// member was a standby and it was not sent).
type write struct {
	member      string
	seq         int64
	sent, acked time.Time
}

func (w write) ok() bool { return !w.acked.IsZero() }

// haProber writes a numbered row to every member every 10 ms, each member
// over its own connection (reconnecting after an error), and records every
// attempt, acknowledged or not.
type haProber struct {
	seq    atomic.Int64
	mu     sync.Mutex
	tried  []write
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startProber(t *testing.T, members ...*haNode) *haProber {
	ctx, cancel := context.WithCancel(context.Background())
	p := &haProber{cancel: cancel}
	for _, m := range members {
		p.wg.Go(func() { p.run(ctx, m) })
	}
	t.Cleanup(p.stop)
	return p
}

// run is the loop for one member.
func (p *haProber) run(ctx context.Context, m *haNode) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for ctx.Err() == nil {
		w := write{member: m.name, seq: p.seq.Add(1), sent: time.Now()}
		cctx, ccancel := context.WithTimeout(ctx, 300*time.Millisecond)
		var err error
		if conn == nil {
			conn, err = m.pg.Connect(cctx)
		}
		var standby bool
		if err == nil { // a standby refuses writes; spare its log the errors
			err = conn.QueryRow(cctx, "SELECT pg_is_in_recovery()").Scan(&standby)
		}
		if err == nil && !standby {
			_, err = conn.Exec(cctx, "INSERT INTO probe (member, seq) VALUES ($1, $2)", m.name, w.seq)
		}
		ccancel()
		if err == nil && !standby {
			w.acked = time.Now()
		}
		p.mu.Lock()
		p.tried = append(p.tried, w)
		p.mu.Unlock()
		if err != nil && conn != nil && (conn.IsClosed() || !pgErrorKeepsConn(err)) {
			conn.Close(context.Background())
			conn = nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// pgErrorKeepsConn reports whether the connection is still good after err:
// a standby's "read-only transaction" refusal leaves it usable.
func pgErrorKeepsConn(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "25006"
}

func (p *haProber) stop() { p.cancel(); p.wg.Wait() }

// writes returns the acknowledged writes of member (all when ""), in the
// order they were sent.
func (p *haProber) writes(member string) []write {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ws []write
	for _, w := range p.tried {
		if w.ok() && (member == "" || w.member == member) {
			ws = append(ws, w)
		}
	}
	slices.SortFunc(ws, func(a, b write) int { return a.sent.Compare(b.sent) })
	return ws
}

// firstAfter returns member's first acknowledged write sent after t (zero
// when there is none).
func (p *haProber) firstAfter(member string, t time.Time) write {
	for _, w := range p.writes(member) {
		if w.sent.After(t) {
			return w
		}
	}
	return write{}
}

// lastAck returns member's last acknowledged write (zero when none).
func (p *haProber) lastAck(member string) write {
	ws := p.writes(member)
	if len(ws) == 0 {
		return write{}
	}
	return slices.MaxFunc(ws, func(a, b write) int { return a.acked.Compare(b.acked) })
}

// overlap returns an error when two members accepted writes at the same
// time, nil otherwise. A member accepts writes from the sending of a write
// it acknowledges until the acknowledgement of the last one before an
// attempt that fails (or finds it a standby): an episode. Episodes of
// different members must not overlap. (A member that keeps acknowledging
// every 10 ms while another does too has overlapping episodes, even when no
// two single writes overlap.)
func (p *haProber) overlap() error {
	p.mu.Lock()
	tried := slices.Clone(p.tried)
	p.mu.Unlock()
	slices.SortStableFunc(tried, func(a, b write) int { return a.sent.Compare(b.sent) })
	var eps []episode
	open := map[string]int{} // member: index of its open episode in eps
	for _, w := range tried {
		i, ok := open[w.member]
		switch {
		case !w.ok():
			delete(open, w.member)
		case ok:
			eps[i].last = w
		default:
			open[w.member] = len(eps)
			eps = append(eps, episode{first: w, last: w})
		}
	}
	for i, a := range eps {
		for _, b := range eps[i+1:] {
			if a.first.member != b.first.member && a.first.sent.Before(b.last.acked) && b.first.sent.Before(a.last.acked) {
				return fmt.Errorf("two primaries: %s, and %s", a, b)
			}
		}
	}
	return nil
}

// episode is a run of writes one member acknowledged without a failure
// between them.
type episode struct{ first, last write }

func (e episode) String() string {
	return fmt.Sprintf("%s acknowledged writes %d..%d sent from %s to %s", e.first.member, e.first.seq, e.last.seq,
		e.first.sent.Format("15:04:05.000"), e.last.acked.Format("15:04:05.000"))
}

// lost returns the writes member acknowledged before until that the
// server at other does not have.
func (p *haProber) lost(t *testing.T, member string, until time.Time, other *haNode) []int64 {
	t.Helper()
	have := map[int64]bool{}
	rows, err := other.pg.Conn(t).Query(t.Context(), "SELECT seq FROM probe WHERE member = $1", member)
	if err != nil {
		t.Fatal(err)
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range seqs {
		have[s] = true
	}
	var lost []int64
	for _, w := range p.writes(member) {
		if w.acked.Before(until) && !have[w.seq] {
			lost = append(lost, w.seq)
		}
	}
	return lost
}
