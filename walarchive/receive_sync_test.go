package walarchive

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/test/harness"
)

// syncWaitCancelled is PostgreSQL's warning when a cancel ends a commit's
// wait for its synchronous standby (the commit stays, locally).
const syncWaitCancelled = "canceling wait for synchronous replication"

func TestReceiverAsSynchronousStandby(t *testing.T) {
	t.Parallel()
	p := harness.StartPostgres(t, harness.PGOptions{})
	e := newRecvEnv(t, p)
	p.Exec(t, `CREATE TABLE acked (id int)`)
	p.Exec(t, `ALTER SYSTEM SET synchronous_standby_names = '"pgkeep"'`)
	p.Reload(t)
	c := connectWithNotices(t, p)
	// The reload reaches each backend on its own time: wait until this
	// connection runs with the setting.
	harness.Wait(t, 10*time.Second, "the connection to see synchronous_standby_names", func() (bool, error) {
		var v string
		err := c.QueryRow(t.Context(), "SHOW synchronous_standby_names").Scan(&v)
		return v == `"pgkeep"`, err
	})

	c.requireCommitBlocks(t, p)

	o := e.options(t, t.TempDir())
	o.Synchronous = true
	o.StatusInterval = time.Minute // only the synchronous path may report in time
	rr := start(t, o)
	rr.waitStreaming(t)
	harness.Wait(t, 10*time.Second, "the receiver to be the synchronous standby", func() (bool, error) {
		v, err := p.TryQueryString(t.Context(), `SELECT coalesce(max(sync_state), '') FROM pg_stat_replication WHERE application_name = 'pgkeep'`)
		return v == "sync", err
	})
	began := time.Now()
	for i := range 20 {
		before, err := c.commit(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		if st := rr.Status(); st.Flushed < before {
			t.Fatalf("commit %d returned with its WAL at %s, the spool flushed only to %s", i, before, st.Flushed)
		}
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("20 synchronous commits took %s", took)
	}

	if err := rr.stop(); err != nil {
		t.Fatal(err)
	}
	c.requireCommitBlocks(t, p)
}

// noticeConn is a connection that records the server's notices.
type noticeConn struct {
	*pgx.Conn
	mu      sync.Mutex
	notices []string
}

func connectWithNotices(t *testing.T, p *harness.Postgres) *noticeConn {
	t.Helper()
	c := &noticeConn{}
	cfg, err := pgx.ParseConfig(p.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.notices = append(c.notices, n.Message)
	}
	if c.Conn, err = pgx.ConnectConfig(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// commit inserts row id in a transaction and returns the WAL position
// before its commit record.
func (c *noticeConn) commit(ctx context.Context, id int) (pg.LSN, error) {
	tx, err := c.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	var before string
	if err := tx.QueryRow(ctx, `INSERT INTO acked VALUES ($1) RETURNING pg_current_wal_insert_lsn()::text`, id).Scan(&before); err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return pg.ParseLSN(before)
}

// requireCommitBlocks checks that a commit waits for the synchronous
// standby (seen in pg_stat_activity, not returning), then cancels the wait.
func (c *noticeConn) requireCommitBlocks(t *testing.T, p *harness.Postgres) {
	t.Helper()
	c.mu.Lock()
	c.notices = nil
	c.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := c.commit(t.Context(), -1)
		done <- err
	}()
	pid := c.PgConn().PID()
	harness.Wait(t, 10*time.Second, "the commit to wait for its synchronous standby", func() (bool, error) {
		select {
		case err := <-done:
			t.Fatalf("the commit returned without a synchronous standby (%v)", err)
		default:
		}
		v, err := p.TryQueryString(t.Context(), `SELECT coalesce(wait_event, '') FROM pg_stat_activity WHERE pid = $1`, pid)
		return v == "SyncRep", err
	})
	p.Exec(t, `SELECT pg_cancel_backend($1)`, pid)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.notices) != 1 || !strings.Contains(c.notices[0], syncWaitCancelled) {
		t.Fatalf("notices after cancelling the wait: %q", c.notices)
	}
}
