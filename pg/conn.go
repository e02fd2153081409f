package pg

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// ConnOptions says how to reach a server. Empty fields fall back to libpq's
// environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGPASSFILE...).
type ConnOptions struct {
	Host     string
	Port     int
	User     string
	Database string
	// Timeout bounds connecting; default 10 s.
	Timeout time.Duration
}

// ConnString renders the options as a URL connection string.
func (o ConnOptions) ConnString() string {
	q := url.Values{}
	if o.Host != "" {
		q.Set("host", o.Host)
	}
	if o.Port != 0 {
		q.Set("port", strconv.Itoa(o.Port))
	}
	if o.User != "" {
		q.Set("user", o.User)
	}
	if o.Database != "" {
		q.Set("dbname", o.Database)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	q.Set("connect_timeout", strconv.Itoa(int(timeout.Round(time.Second)/time.Second)))
	q.Set("application_name", "pgkeep")
	return "postgres:///?" + q.Encode()
}

// Connect opens a connection.
func Connect(ctx context.Context, o ConnOptions) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, o.ConnString())
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return conn, nil
}

// ServerInfo is what pgkeep needs to know about a running server.
type ServerInfo struct {
	SystemID       uint64
	VersionNum     int // server_version_num, e.g. 150018
	WALSegmentSize int64
	InRecovery     bool
	Timeline       uint32
	ArchiveMode    string
	ArchiveCommand string
}

// Major is the major version, e.g. 15.
func (s ServerInfo) Major() int { return s.VersionNum / 10000 }

// QueryServerInfo asks the server for its identity and WAL settings.
func QueryServerInfo(ctx context.Context, conn *pgx.Conn) (ServerInfo, error) {
	var s ServerInfo
	var sysid string
	err := conn.QueryRow(ctx, `SELECT system_identifier::text, current_setting('server_version_num')::int,
		current_setting('wal_segment_size'), pg_is_in_recovery(), timeline_id,
		current_setting('archive_mode'), current_setting('archive_command')
		FROM pg_control_system(), pg_control_checkpoint()`).Scan(
		&sysid, &s.VersionNum, new(string), &s.InRecovery, &s.Timeline, &s.ArchiveMode, &s.ArchiveCommand)
	if err != nil {
		return s, fmt.Errorf("query server identity: %w", err)
	}
	if s.SystemID, err = strconv.ParseUint(sysid, 10, 64); err != nil {
		return s, fmt.Errorf("system identifier %q: %w", sysid, err)
	}
	// wal_segment_size prints with a unit ("16MB"); ask for bytes.
	if err := conn.QueryRow(ctx, `SELECT setting::bigint * CASE unit WHEN '8kB' THEN 8192 WHEN 'B' THEN 1 WHEN 'MB' THEN 1048576 ELSE 1 END
		FROM pg_settings WHERE name = 'wal_segment_size'`).Scan(&s.WALSegmentSize); err != nil {
		return s, fmt.Errorf("query wal_segment_size: %w", err)
	}
	if !ValidSegmentSize(s.WALSegmentSize) {
		return s, fmt.Errorf("server reports an invalid wal_segment_size %d", s.WALSegmentSize)
	}
	return s, nil
}
