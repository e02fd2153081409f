package ha

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgkeep/pgkeep/pg"
)

// Restart restarts the server (fast shutdown) as what it was, and waits
// until it accepts connections.
func (p *postgres) Restart(ctx context.Context) error {
	_, err := p.run(ctx, "pg_ctl", "-D", p.dataDir, "-l", p.logFile, "-m", "fast", "-w", "-t", fmt.Sprint(int(ctlTimeout.Seconds())), "restart")
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	return nil
}

// Checkpoint runs CHECKPOINT, so that the shutdown checkpoint after it has
// little to write.
func (p *postgres) Checkpoint(ctx context.Context) error {
	conn, err := pg.Connect(ctx, p.conn)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// waitStreaming waits, up to timeout, until the standby named
// application_name streams from this server, asking on one connection
// (opened again after an error).
func (p *postgres) waitStreaming(ctx context.Context, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx))
		}
	}()
	var last error
	for {
		var err error
		if conn == nil {
			conn, err = pg.Connect(ctx, p.conn)
		}
		if err == nil {
			var n int
			var seen string
			err = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE application_name = $1 AND state = 'streaming'),
				coalesce(string_agg(application_name || ' ' || state, ', '), 'none') FROM pg_stat_replication`, name).Scan(&n, &seen)
			if err == nil && n > 0 {
				return nil
			}
			if err == nil {
				err = fmt.Errorf("pg_stat_replication: %s", seen)
			} else {
				conn.Close(context.WithoutCancel(ctx))
				conn = nil
			}
		}
		if ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not within %s (%v)", timeout, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
