package ha

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pgkeep/pgkeep/pg"
)

// recoveryPoll is how often waitPromoted looks.
const recoveryPoll = 500 * time.Millisecond

// startRecovery starts the server without waiting: recovering a backup to
// its target may take longer than any pg_ctl timeout; waitPromoted waits.
func (p *postgres) startRecovery(ctx context.Context) error {
	if err := p.writeConfig(); err != nil {
		return err
	}
	_, err := p.run(ctx, "pg_ctl", "-D", p.dataDir, "-l", p.logFile, "-W", "start")
	return err
}

// postmasterGrace is how long after its start a postmaster may not have
// written postmaster.pid yet.
const postmasterGrace = 10 * time.Second

// waitPromoted waits until a server recovering from a backup has reached
// its target and promoted. A server that stops meanwhile (recovery failed,
// or ended before the target) is an error with the end of its log.
func (p *postgres) waitPromoted(ctx context.Context) error {
	start, last := time.Now(), time.Now()
	for {
		conn, err := pg.Connect(ctx, p.conn)
		if err == nil {
			var inRecovery bool
			var replay string
			err = conn.QueryRow(ctx, "SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn()::text, '')").Scan(&inRecovery, &replay)
			conn.Close(context.WithoutCancel(ctx))
			if err == nil && !inRecovery {
				return nil
			}
			if err == nil && time.Since(last) > 10*time.Second {
				last = time.Now()
				p.log.Info("recovering from the archive", "replayed", replay)
			}
		}
		if err != nil && !p.postmasterAlive() && time.Since(start) > postmasterGrace {
			return fmt.Errorf("PostgreSQL stopped during recovery: %w; log: %s", err, p.logTail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(recoveryPoll):
		}
	}
}

// recoveryKeys are the settings a restore writes into postgresql.auto.conf
// that point at the source's archive and target.
var recoveryKeys = []string{"restore_command", "recovery_target", "recovery_target_time", "recovery_target_xid",
	"recovery_target_name", "recovery_target_lsn", "recovery_target_inclusive", "recovery_target_action",
	"recovery_target_timeline"}

// resetRecovery removes a finished recovery's settings from
// postgresql.auto.conf, so that the managed ones (this cluster's
// restore_command) apply.
func (p *postgres) resetRecovery(ctx context.Context) error {
	conn, err := pg.Connect(ctx, p.conn)
	if err != nil {
		return fmt.Errorf("reset the recovery settings: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, k := range recoveryKeys {
		if _, err := conn.Exec(ctx, "ALTER SYSTEM RESET "+k); err != nil {
			return fmt.Errorf("reset the recovery settings: %s: %w", k, err)
		}
	}
	_, err = conn.Exec(ctx, "SELECT pg_reload_conf()")
	return err
}

// logTail is the end of the server log, for error messages.
func (p *postgres) logTail() string {
	b, err := readTail(p.logFile, 2048)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return b
}

// postmasterAlive reports whether the process postmaster.pid names lives.
func (p *postgres) postmasterAlive() bool {
	b, err := os.ReadFile(filepath.Join(p.dataDir, "postmaster.pid"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return false
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
