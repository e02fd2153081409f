package harness

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ConnString returns the URL to connect to the server as the superuser:
// postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable.
func (p *Postgres) ConnString() string {
	hostPort := net.JoinHostPort(p.Host, strconv.Itoa(p.Port))
	return "postgres://postgres@" + hostPort + "/postgres?sslmode=disable"
}

// ReplicationConnString returns ConnString with replication=true, for a
// physical replication connection (IDENTIFY_SYSTEM, START_REPLICATION,
// BASE_BACKUP), e.g. through pgconn and pglogrepl.
func (p *Postgres) ReplicationConnString() string {
	return p.ConnString() + "&replication=true"
}

// Connect opens a connection to the server; the caller closes it.
func (p *Postgres) Connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, p.ConnString())
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL on port %d: %w", p.Port, err)
	}
	return conn, nil
}

// Conn opens a connection to the server that is closed at cleanup.
func (p *Postgres) Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), sqlTimeout)
	defer cancel()
	conn, err := p.Connect(ctx)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), sqlTimeout)
		defer cancel()
		_ = conn.Close(ctx) // the server may be gone by now
	})
	return conn
}

// Exec runs sql on a new connection and fails the test on error. Without
// args it uses the simple protocol, so sql may hold several statements.
func (p *Postgres) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), sqlTimeout)
	defer cancel()
	conn, err := p.Connect(ctx)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("harness: exec %q: %v", sql, err)
	}
}

// QueryString runs a query that returns one row of one column on a new
// connection and returns that value in PostgreSQL's text form ("" for NULL).
// It fails the test on error.
func (p *Postgres) QueryString(t testing.TB, sql string, args ...any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), sqlTimeout)
	defer cancel()
	v, err := p.TryQueryString(ctx, sql, args...)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return v
}

// TryQueryString is QueryString returning the error instead of failing the
// test, for use in [Wait] conditions.
func (p *Postgres) TryQueryString(ctx context.Context, sql string, args ...any) (string, error) {
	conn, err := p.Connect(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	text := pgx.QueryResultFormats{pgx.TextFormatCode}
	rows, err := conn.Query(ctx, sql, append([]any{text}, args...)...)
	if err != nil {
		return "", fmt.Errorf("query %q: %w", sql, err)
	}
	defer rows.Close()
	var vals []string
	for rows.Next() {
		raw := rows.RawValues()
		if len(raw) != 1 {
			return "", fmt.Errorf("query %q: %d columns, want 1", sql, len(raw))
		}
		vals = append(vals, string(raw[0]))
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("query %q: %w", sql, err)
	}
	if len(vals) != 1 {
		return "", fmt.Errorf("query %q: %d rows, want 1", sql, len(vals))
	}
	return vals[0], nil
}

// connArgs are the client options that reach this server as the superuser.
func (p *Postgres) connArgs() []string {
	return []string{"-h", p.Host, "-p", strconv.Itoa(p.Port), "-U", "postgres"}
}

// Pgbench runs pgbench args... -h 127.0.0.1 -p PORT -U postgres postgres and
// fails the test, showing pgbench's output, on error.
func (p *Postgres) Pgbench(t testing.TB, args ...string) {
	t.Helper()
	all := append(append(append([]string{}, args...), p.connArgs()...), "postgres")
	out, err := PGCommand(t.Context(), PGBin("pgbench"), all...).CombinedOutput()
	if err != nil {
		t.Fatalf("harness: pgbench %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Psql runs sql through psql (-X -A -t, ON_ERROR_STOP) against the postgres
// database and returns its standard output without the final newline. It
// fails the test, showing psql's output, on error.
func (p *Postgres) Psql(t testing.TB, sql string) string {
	t.Helper()
	args := append(p.connArgs(), "-d", "postgres", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql)
	cmd := PGCommand(t.Context(), PGBin("psql"), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("harness: psql -c %q: %v\n%s%s", sql, err, out, stderr.String())
	}
	return strings.TrimSuffix(string(out), "\n")
}
