package ha

import (
	"context"
	"fmt"

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

// streamingTo reports whether the standby named application_name streams
// from this server now.
func (p *postgres) streamingTo(ctx context.Context, name string) (bool, error) {
	conn, err := pg.Connect(ctx, p.conn)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	var seen string
	err = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE application_name = $1 AND state = 'streaming'),
		coalesce(string_agg(application_name || ' ' || state, ', '), 'none') FROM pg_stat_replication`, name).Scan(&n, &seen)
	if err == nil && n == 0 {
		err = fmt.Errorf("pg_stat_replication: %s", seen)
	}
	return n > 0, err
}
