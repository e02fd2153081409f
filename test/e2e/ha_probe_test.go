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

// write is one INSERT a prober sent: to which member, its number, when it
// was sent and when the member acknowledged it (zero: it failed).
type write struct {
	member      string
	seq         int64
	sent, acked time.Time
}

// haProber writes a numbered row to every member every 10 ms, each member
// over its own connection (reconnecting after an error), and records every
// acknowledged write.
type haProber struct {
	seq    atomic.Int64
	mu     sync.Mutex
	acked  []write
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
			p.mu.Lock()
			p.acked = append(p.acked, w)
			p.mu.Unlock()
		} else if err != nil && conn != nil && (conn.IsClosed() || !pgErrorKeepsConn(err)) {
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
	for _, w := range p.acked {
		if member == "" || w.member == member {
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

// overlap returns an error naming two acknowledged writes on different
// members whose [sent, acked] intervals overlap: both members may have
// accepted writes in the same instant. nil when there is none.
func (p *haProber) overlap() error {
	lastAcked := map[string]write{} // per member, the write acked latest so far
	for _, w := range p.writes("") {
		for member, prev := range lastAcked {
			if member != w.member && prev.acked.After(w.sent) {
				return fmt.Errorf("two primaries: %s acknowledged write %d at %s, after %s's write %d was sent at %s",
					member, prev.seq, prev.acked.Format("15:04:05.000"), w.member, w.seq, w.sent.Format("15:04:05.000"))
			}
		}
		if w.acked.After(lastAcked[w.member].acked) {
			lastAcked[w.member] = w
		}
	}
	return nil
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
