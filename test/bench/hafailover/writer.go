package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// write is one acknowledged INSERT.
type write struct {
	member      string
	seq         int64
	sent, acked time.Time
}

// writer inserts a numbered row on every member that is not in recovery
// every 10 ms, each over its own connection (reconnecting after errors),
// and records the acknowledged ones.
type writer struct {
	seq    atomic.Int64
	mu     sync.Mutex
	acked  []write
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startWriter(ctx context.Context, ms []*member) *writer {
	ctx, cancel := context.WithCancel(ctx)
	w := &writer{cancel: cancel}
	for _, m := range ms {
		w.wg.Go(func() { w.run(ctx, m) })
	}
	return w
}

func (w *writer) stop() { w.cancel(); w.wg.Wait() }

func (w *writer) run(ctx context.Context, m *member) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for ctx.Err() == nil {
		wr := write{member: m.name, seq: w.seq.Add(1), sent: time.Now()}
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		var err error
		if conn == nil {
			conn, err = m.connect(cctx)
		}
		var standby bool
		if err == nil {
			err = conn.QueryRow(cctx, "SELECT pg_is_in_recovery()").Scan(&standby)
		}
		if err == nil && !standby {
			_, err = conn.Exec(cctx, "INSERT INTO bench_w (seq, member) VALUES ($1, $2)", wr.seq, m.name)
		}
		cancel()
		switch {
		case err == nil && !standby:
			wr.acked = time.Now()
			w.mu.Lock()
			w.acked = append(w.acked, wr)
			w.mu.Unlock()
		case err != nil && conn != nil:
			conn.Close(context.Background())
			conn = nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// firstAfter is member's first acknowledged write sent after t.
func (w *writer) firstAfter(member string, t time.Time) write {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, wr := range w.acked {
		if wr.member == member && wr.sent.After(t) {
			return wr
		}
	}
	return write{}
}

// lost counts the writes member acknowledged and those of them the new
// primary next does not have.
func (w *writer) lost(ctx context.Context, member string, next *member) (acked, lost int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := next.connect(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close(context.Background())
	rows, err := c.Query(ctx, "SELECT seq FROM bench_w WHERE member = $1", member)
	if err != nil {
		return 0, 0, err
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, 0, err
	}
	have := map[int64]bool{}
	for _, s := range seqs {
		have[s] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, wr := range w.acked {
		if wr.member == member {
			acked++
			if !have[wr.seq] {
				lost++
			}
		}
	}
	return acked, lost, nil
}
