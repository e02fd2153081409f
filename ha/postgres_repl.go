package ha

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgkeep/pgkeep/pg"
)

// slot is a physical replication slot of the local server.
type slot struct {
	Name    string
	Active  bool
	Restart pg.LSN // restart_lsn; 0 when it reserves no WAL
}

// physicalSlots lists the server's physical replication slots, by name.
func physicalSlots(ctx context.Context, conn *pgx.Conn) (map[string]slot, error) {
	rows, err := conn.Query(ctx, `SELECT slot_name, active, coalesce(restart_lsn::text, '') FROM pg_replication_slots WHERE slot_type = 'physical'`)
	if err != nil {
		return nil, fmt.Errorf("list replication slots: %w", err)
	}
	defer rows.Close()
	out := map[string]slot{}
	for rows.Next() {
		var s slot
		var restart string
		if err := rows.Scan(&s.Name, &s.Active, &restart); err != nil {
			return nil, fmt.Errorf("list replication slots: %w", err)
		}
		if restart != "" {
			s.Restart, _ = pg.ParseLSN(restart)
		}
		out[s.Name] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list replication slots: %w", err)
	}
	return out, nil
}

// createSlot creates a physical slot that reserves WAL at once (on a
// standby, from its last restartpoint). A slot that exists is no error.
func createSlot(ctx context.Context, conn *pgx.Conn, name string) (pg.LSN, error) {
	var lsn *string
	err := conn.QueryRow(ctx, "SELECT lsn::text FROM pg_create_physical_replication_slot($1, true)", name).Scan(&lsn)
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "42710" { // duplicate_object
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("create replication slot %s: %w", name, err)
	}
	if lsn == nil {
		return 0, nil
	}
	return pg.ParseLSN(*lsn)
}

// dropSlot drops a slot; a slot that does not exist is no error.
func dropSlot(ctx context.Context, conn *pgx.Conn, name string) error {
	_, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", name)
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "42704" { // undefined_object
		return nil
	}
	if err != nil {
		return fmt.Errorf("drop replication slot %s: %w", name, err)
	}
	return nil
}

// advanceSlot moves a physical slot's restart_lsn forward to lsn (which
// PostgreSQL clamps to what the server has flushed or replayed).
func advanceSlot(ctx context.Context, conn *pgx.Conn, name string, lsn pg.LSN) error {
	if _, err := conn.Exec(ctx, "SELECT pg_replication_slot_advance($1, $2::pg_lsn)", name, lsn.String()); err != nil {
		return fmt.Errorf("advance replication slot %s to %s: %w", name, lsn, err)
	}
	return nil
}

// syncNames is synchronous_standby_names as the server runs with it, and
// whether ALTER SYSTEM set it.
type syncNames struct {
	Value   string
	Managed bool
}

// replicationState is what the primary reports of its standbys.
type replicationState struct {
	Names syncNames
	// Standbys are pg_stat_replication's rows.
	Standbys []walSender
	// WAL is pg_current_wal_lsn(), read after the rows.
	WAL pg.LSN
}

// walSender is a row of pg_stat_replication.
type walSender struct {
	Name, State, SyncState string
	Flush                  pg.LSN
}

// replication reads synchronous_standby_names, pg_stat_replication and then
// the WAL position. conn should be new, so that it runs with the
// configuration as the postmaster last reloaded it.
func replication(ctx context.Context, conn *pgx.Conn) (replicationState, error) {
	var r replicationState
	var source string
	if err := conn.QueryRow(ctx, `SELECT setting, coalesce(sourcefile, '') FROM pg_settings WHERE name = 'synchronous_standby_names'`).
		Scan(&r.Names.Value, &source); err != nil {
		return r, fmt.Errorf("read synchronous_standby_names: %w", err)
	}
	r.Names.Managed = strings.HasSuffix(source, "postgresql.auto.conf")
	rows, err := conn.Query(ctx, `SELECT coalesce(application_name, ''), coalesce(state, ''), coalesce(sync_state, ''), coalesce(flush_lsn::text, '')
		FROM pg_stat_replication`)
	if err != nil {
		return r, fmt.Errorf("read pg_stat_replication: %w", err)
	}
	for rows.Next() {
		var w walSender
		var flush string
		if err := rows.Scan(&w.Name, &w.State, &w.SyncState, &flush); err != nil {
			rows.Close()
			return r, fmt.Errorf("read pg_stat_replication: %w", err)
		}
		if flush != "" {
			w.Flush, _ = pg.ParseLSN(flush)
		}
		r.Standbys = append(r.Standbys, w)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("read pg_stat_replication: %w", err)
	}
	var wal string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&wal); err != nil {
		return r, fmt.Errorf("read the WAL position: %w", err)
	}
	r.WAL, err = pg.ParseLSN(wal)
	if err != nil {
		return r, fmt.Errorf("read the WAL position: %w", err)
	}
	return r, nil
}

// setSyncNames sets synchronous_standby_names with ALTER SYSTEM ("" with
// reset: ALTER SYSTEM RESET) and reloads the configuration.
func setSyncNames(ctx context.Context, conn *pgx.Conn, value string, reset bool) error {
	sql := "ALTER SYSTEM SET synchronous_standby_names = " + quoteLiteral(value)
	if reset {
		sql = "ALTER SYSTEM RESET synchronous_standby_names"
	}
	for _, s := range []string{sql, "SELECT pg_reload_conf()"} {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("set synchronous_standby_names: %s: %w", s, err)
		}
	}
	return nil
}

// withConn runs f on a new connection to the local server.
func (p *postgres) withConn(ctx context.Context, f func(*pgx.Conn) error) error {
	conn, err := pg.Connect(ctx, p.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return f(conn)
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
