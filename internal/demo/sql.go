package demo

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// connect opens a connection to a member's PostgreSQL.
func connect(ctx context.Context, port int) (*pgx.Conn, error) {
	return pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", port))
}

// execSQL runs SQL on a member.
func execSQL(ctx context.Context, port int, sql string) error {
	c, err := connect(ctx, port)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	_, err = c.Exec(ctx, sql)
	return err
}

// marks inserts rows 1-100, takes the time T, inserts rows 101-200, and
// returns T as PostgreSQL prints it.
func (d *run) marks(ctx context.Context, m *member) (string, error) {
	c, err := connect(ctx, m.port)
	if err != nil {
		return "", err
	}
	defer c.Close(context.WithoutCancel(ctx))
	var target string
	for _, sql := range []string{
		"CREATE TABLE marks (id int PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())",
		"INSERT INTO marks (id) SELECT generate_series(1, 100)",
	} {
		if _, err := c.Exec(ctx, sql); err != nil {
			return "", fmt.Errorf("demo: %s: %w", sql, err)
		}
	}
	if err := c.QueryRow(ctx, `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'`).Scan(&target); err != nil {
		return "", err
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := c.Exec(ctx, "INSERT INTO marks (id) SELECT generate_series(101, 200)"); err != nil {
		return "", err
	}
	// The WAL past T must reach the repository for the restore to get there.
	_, err = c.Exec(ctx, "SELECT pg_switch_wal()")
	return target, err
}

// checkMarks returns the rows of marks on a member, and an error unless they
// are exactly ids 1-100.
func (d *run) checkMarks(ctx context.Context, m *member) (int, error) {
	c, err := connect(ctx, m.port)
	if err != nil {
		return 0, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	var n, lo, hi int
	if err := c.QueryRow(ctx, "SELECT count(*), min(id), max(id) FROM marks").Scan(&n, &lo, &hi); err != nil {
		return 0, fmt.Errorf("demo: rows of the restored cluster: %w", err)
	}
	if n != 100 || lo != 1 || hi != 100 {
		return n, fmt.Errorf("demo: the point-in-time restore has %d rows, ids %d-%d; want 100 rows, ids 1-100", n, lo, hi)
	}
	return n, nil
}

// killPrimary kills the agent and the postmaster of the primary member at
// once, then tries a write on every other member every 10 ms; it returns the
// member that accepted the first one and how long after the kill.
func (d *run) killPrimary(ctx context.Context, old *member) (string, time.Duration, error) {
	pid, err := postmasterPID(old.data)
	if err != nil {
		return "", 0, err
	}
	if err := execSQL(ctx, old.port, "CREATE TABLE ticks (at timestamptz DEFAULT clock_timestamp(), member text)"); err != nil {
		return "", 0, err
	}
	killed := time.Now()
	old.agent.kill()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return "", 0, fmt.Errorf("demo: kill -9 postgres %d: %w", pid, err)
	}
	var winner string
	err = waitFor(ctx, 2*time.Minute, "a new primary to accept a write", func(ctx context.Context) (bool, error) {
		for _, m := range d.members {
			if m == old {
				continue
			}
			actx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			err := execSQL(actx, m.port, fmt.Sprintf("INSERT INTO ticks (member) VALUES ('%s')", m.name))
			cancel()
			if err == nil {
				winner = m.name
				return true, nil
			}
		}
		return false, nil
	})
	return winner, time.Since(killed), err
}

// postmasterPID reads the postmaster's PID from PGDATA/postmaster.pid.
func postmasterPID(data string) (int, error) {
	f, err := os.Open(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("demo: %w", err)
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	return strconv.Atoi(strings.TrimSpace(line))
}

// httpStatus returns the status of a GET, 0 when there is no answer.
func httpStatus(ctx context.Context, url string) int {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// metric returns a Prometheus metric without labels, -1 when absent.
func metric(ctx context.Context, url, name string) float64 {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return -1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}
