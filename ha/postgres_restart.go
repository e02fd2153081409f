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
