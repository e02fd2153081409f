package ha

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgkeep/pgkeep/pg"
)

// standbySignal is the file that makes PostgreSQL start as a standby.
const standbySignal = "standby.signal"

// Start starts the server, as a standby when standby is true (else as what
// it was), and waits until it accepts connections.
func (p *postgres) Start(ctx context.Context, standby bool) error {
	if err := p.writeConfig(); err != nil {
		return err
	}
	if standby {
		if err := p.writeFile(standbySignal, nil); err != nil {
			return err
		}
	}
	_, err := p.run(ctx, "pg_ctl", "-D", p.dataDir, "-l", p.logFile, "-w", "-t", fmt.Sprint(int(ctlTimeout.Seconds())), "start")
	if err != nil && p.running(ctx) {
		return nil // started meanwhile, or was running
	}
	return err
}

// Stop stops the server in mode (fast: clean, after sending all WAL to the
// standbys; immediate: at once, crash recovery on the next start).
// Stopping a stopped server succeeds.
func (p *postgres) Stop(ctx context.Context, mode string) error {
	if _, err := os.Stat(filepath.Join(p.dataDir, "postmaster.pid")); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	_, err := p.run(ctx, "pg_ctl", "-D", p.dataDir, "-m", mode, "-w", "-t", fmt.Sprint(int(ctlTimeout.Seconds())), "stop")
	if err != nil && (strings.Contains(err.Error(), "Is server running?") || strings.Contains(err.Error(), "No such process")) {
		return nil // a stale postmaster.pid: the server is gone already
	}
	return err
}

// Demote makes a primary read-only: stop (fast, or immediate to fence),
// then start again as a standby with no upstream yet.
func (p *postgres) Demote(ctx context.Context, mode string) error {
	if err := p.Stop(ctx, mode); err != nil {
		return fmt.Errorf("demote: %w", err)
	}
	if err := p.Start(ctx, true); err != nil {
		return fmt.Errorf("demote: start as a standby: %w", err)
	}
	return nil
}

// Promote ends recovery and waits for it (at most a minute).
func (p *postgres) Promote(ctx context.Context) error {
	conn, err := pg.Connect(ctx, p.conn)
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var done bool
	if err := conn.QueryRow(ctx, "SELECT pg_promote(true, 60)").Scan(&done); err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	if !done {
		return errors.New("promote: not finished within 60 s")
	}
	return nil
}

// Follow points the running standby at conninfo, streaming through the
// replication slot slot (ALTER SYSTEM and a reload: PostgreSQL 13+
// restarts its WAL receiver). It reports whether it changed anything.
func (p *postgres) Follow(ctx context.Context, conninfo, slot string) (bool, error) {
	conn, err := pg.Connect(ctx, p.conn)
	if err != nil {
		return false, fmt.Errorf("follow: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var current, currentSlot string
	if err := conn.QueryRow(ctx, "SELECT current_setting('primary_conninfo'), current_setting('primary_slot_name')").Scan(&current, &currentSlot); err != nil {
		return false, fmt.Errorf("follow: %w", err)
	}
	if current == conninfo && currentSlot == slot {
		return false, nil
	}
	for _, sql := range []string{"ALTER SYSTEM SET primary_conninfo = " + quoteLiteral(conninfo),
		"ALTER SYSTEM SET primary_slot_name = " + quoteLiteral(slot),
		"ALTER SYSTEM SET recovery_target_timeline = 'latest'", "SELECT pg_reload_conf()"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return false, fmt.Errorf("follow: %s: %w", sql, err)
		}
	}
	return true, nil
}

// Rewind stops the server, rewinds it from source (a conninfo to the
// leader) and starts it as a standby of conninfo through slot. The
// member's own configuration files are kept: pg_rewind copies the
// source's (its port, its primary_conninfo, primary_slot_name and
// synchronous_standby_names in postgresql.auto.conf).
func (p *postgres) Rewind(ctx context.Context, source, conninfo, slot string) error {
	// The source first: stopping the server to find the leader gone, or not
	// promoted yet, would leave the member without PostgreSQL for nothing.
	if err := checkSource(ctx, source); err != nil {
		return fmt.Errorf("rewind: %w", err)
	}
	start := time.Now()
	if err := p.Stop(ctx, "fast"); err != nil {
		return fmt.Errorf("rewind: %w", err)
	}
	if err := checkpoint(ctx, source, p.conn.Timeout); err != nil {
		return fmt.Errorf("rewind: %w", err)
	}
	conf, err := p.configFiles()
	if err != nil {
		return fmt.Errorf("rewind: %w", err)
	}
	if err := p.ensureCleanShutdown(ctx); err != nil {
		return fmt.Errorf("rewind: %w", err)
	}
	out, rerr := p.run(ctx, "pg_rewind", "-D", p.dataDir, "--source-server", source, "--no-sync")
	for name, data := range conf {
		if name == autoConf {
			// Stream from the leader from the start: the WAL to reach a
			// consistent state after the rewind comes from it.
			data = withSettings(data, map[string]string{"primary_conninfo": conninfo, "primary_slot_name": slot})
		}
		if err := p.writeFile(name, data); err != nil {
			return fmt.Errorf("rewind: restore the member's configuration: %w", err)
		}
	}
	if rerr != nil {
		return fmt.Errorf("rewind: %w: %w", errRewind, rerr)
	}
	p.log.Info("pg_rewind done", "took", time.Since(start).Round(time.Millisecond), "output", strings.TrimSpace(out))
	if err := p.Start(ctx, true); err != nil {
		return fmt.Errorf("rewind: %w: start after pg_rewind: %w", errRewind, err)
	}
	return nil
}

// errRewind: pg_rewind failed, or the rewound server did not start: the
// data directory is of no use as it is.
var errRewind = errors.New("the rewind failed")

// checkSource checks that the rewind's source answers and runs as primary.
func checkSource(ctx context.Context, source string) error {
	conn, err := pgx.Connect(ctx, source+" connect_timeout=2")
	if err != nil {
		return fmt.Errorf("the source: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var recovery bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&recovery); err != nil {
		return fmt.Errorf("the source: %w", err)
	}
	if recovery {
		return errors.New("the source is not promoted yet")
	}
	return nil
}

// autoConf is the file ALTER SYSTEM writes.
const autoConf = "postgresql.auto.conf"

// withSettings returns postgresql.auto.conf's content with settings set
// (their earlier lines removed, new ones appended), as ALTER SYSTEM would.
func withSettings(content []byte, settings map[string]string) []byte {
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(content), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), "=")
		if _, ok := settings[strings.TrimSpace(name)]; ok || line == "" {
			continue
		}
		b.WriteString(line)
	}
	if s := b.String(); s != "" && !strings.HasSuffix(s, "\n") {
		b.WriteString("\n")
	}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		fmt.Fprintf(&b, "%s = %s\n", k, quoteLiteral(settings[k]))
	}
	return []byte(b.String())
}

// ensureCleanShutdown brings a stopped server that did not shut down
// cleanly (pg_rewind refuses it) to a clean shutdown: started as a standby
// it replays its WAL, and stopped it is "shut down in recovery". (Crash
// recovery as a primary, as in single-user mode, would end with a
// checkpoint that removes the WAL pg_rewind needs to find the last common
// checkpoint.)
func (p *postgres) ensureCleanShutdown(ctx context.Context) error {
	out, err := p.run(ctx, "pg_controldata", "-D", p.dataDir)
	if err != nil {
		return err
	}
	state := ""
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Database cluster state:"); ok {
			state = strings.TrimSpace(v)
		}
	}
	if state == "shut down" || state == "shut down in recovery" {
		return nil
	}
	p.log.Info("crash recovery as a standby before pg_rewind", "state", state)
	if err := p.Start(ctx, true); err != nil {
		return fmt.Errorf("crash recovery: %w", err)
	}
	if err := p.Stop(ctx, "fast"); err != nil {
		return fmt.Errorf("crash recovery: %w", err)
	}
	return nil
}

// configFiles reads the configuration files at the top of the data
// directory (*.conf).
func (p *postgres) configFiles() (map[string][]byte, error) {
	entries, err := os.ReadDir(p.dataDir)
	if err != nil {
		return nil, fmt.Errorf("read the data directory: %w", err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".conf") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(p.dataDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("save the configuration: %w", err)
		}
		out[e.Name()] = b
	}
	return out, nil
}

// running reports whether the server accepts connections.
func (p *postgres) running(ctx context.Context) bool {
	conn, err := pg.Connect(ctx, p.conn)
	if err != nil {
		return false
	}
	conn.Close(context.WithoutCancel(ctx))
	return true
}

// writeFile writes a file in the data directory, owned like the directory
// (the agent may run as root beside a server run by the postgres user).
func (p *postgres) writeFile(name string, data []byte) error {
	path := filepath.Join(p.dataDir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fi, err := os.Stat(p.dataDir)
	if err != nil {
		return fmt.Errorf("stat %s: %w", p.dataDir, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		if err := os.Chown(path, int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	return nil
}

// checkpoint runs CHECKPOINT on the server at conninfo (the leader before
// a rewind from it): until its first checkpoint after a promotion, a
// leader's pg_control still names its old timeline, and pg_rewind would
// find "no rewind required" on a diverged member.
func checkpoint(ctx context.Context, conninfo string, timeout time.Duration) error {
	cfg, err := pgx.ParseConfig(conninfo)
	if err != nil {
		return fmt.Errorf("checkpoint on the leader: %w", err)
	}
	if timeout > 0 {
		cfg.ConnectTimeout = timeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("checkpoint on the leader: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("checkpoint on the leader: %w", err)
	}
	return nil
}
