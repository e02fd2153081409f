package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// commit is one marker row as the writer saw it acknowledged.
type commit struct {
	id    int
	at    time.Time // commit timestamp (track_commit_timestamp)
	after string    // pg_current_wal_insert_lsn() right after the commit
}

// writer commits one marker row at a time until stop, recording each.
// When point is signalled it creates the restore point 'e2e-point' after its
// next commit and reports that commit's id on pointID.
func writer(ctx context.Context, t *testing.T, connString string, every time.Duration, point <-chan struct{}, pointID chan<- int) []commit {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		t.Error(err)
		return nil
	}
	defer conn.Close(context.Background())
	var out []commit
	for id := 1; ctx.Err() == nil; id++ {
		var c commit
		c.id = id
		if _, err := conn.Exec(ctx, "INSERT INTO marks (id) VALUES ($1)", id); err != nil {
			if ctx.Err() == nil {
				t.Error(err)
			}
			break
		}
		err := conn.QueryRow(context.Background(), `SELECT pg_xact_commit_timestamp(xmin), pg_current_wal_insert_lsn()::text FROM marks WHERE id = $1`, id).Scan(&c.at, &c.after)
		if err != nil {
			t.Error(err)
			break
		}
		select {
		case <-point:
			if _, err := conn.Exec(context.Background(), "SELECT pg_create_restore_point('e2e-point')"); err != nil {
				t.Error(err)
			}
			pointID <- id
		default:
		}
		out = append(out, c)
		time.Sleep(every)
	}
	return out
}

// PITR exactness: while a writer commits marker rows and pgbench runs, a
// full backup is taken; restores to a time, an LSN, a restore point and the
// backup's consistency point each contain exactly the rows committed before.
func TestPointInTimeRecovery(t *testing.T) {
	c := startArchiving(t, posixRepo(t))
	c.pg.Exec(t, "ALTER SYSTEM SET track_commit_timestamp = on")
	c.pg.Stop(t)
	c.pg.Start(t)
	c.pg.Exec(t, "CREATE TABLE marks (id int PRIMARY KEY)")
	c.pg.Pgbench(t, "-i", "-s", "5", "-q")

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var commits []commit
	point, pointID := make(chan struct{}), make(chan int, 1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		commits = writer(ctx, t, c.pg.ConnString(), 15*time.Millisecond, point, pointID)
	}()
	go func() { defer wg.Done(); c.pg.Pgbench(t, "-T", "6", "-c", "2") }()
	time.Sleep(time.Second)
	before := time.Now()
	c.backup(t, "full")
	after := time.Now()
	time.Sleep(time.Second)
	point <- struct{}{}
	named := <-pointID
	time.Sleep(time.Second)
	stop()
	wg.Wait()
	c.switchAndWait(t)
	if len(commits) < 200 {
		t.Fatalf("the writer committed only %d rows", len(commits))
	}

	// Rows committed by the end of the backup are its lower bound.
	var inBackup, afterBackup int
	for _, cm := range commits {
		if cm.at.Before(before) {
			inBackup = cm.id
		}
		if cm.at.Before(after) {
			afterBackup = cm.id
		}
	}

	if len(commits) < afterBackup+61 {
		t.Fatalf("only %d commits after the backup ended (commit %d): too few to aim at", len(commits)-afterBackup, afterBackup)
	}
	t.Run("time", func(t *testing.T) {
		k := afterBackup + 40 // a commit after the backup ended
		target := commits[k-1].at.Add(commits[k].at.Sub(commits[k-1].at) / 2)
		copy := c.restoreAndStart(t, "--target-time", target.UTC().Format("2006-01-02 15:04:05.999999-07"))
		if err := isPrefix(ids(t, copy), k); err != nil {
			t.Fatalf("restore to %s (between commits %d and %d): %v", target, k, k+1, err)
		}
	})
	t.Run("lsn", func(t *testing.T) {
		k := afterBackup + 60
		copy := c.restoreAndStart(t, "--target-lsn", commits[k-1].after)
		if err := isPrefix(ids(t, copy), k); err != nil {
			t.Fatalf("restore to LSN %s (after commit %d): %v", commits[k-1].after, k, err)
		}
	})
	t.Run("name", func(t *testing.T) {
		copy := c.restoreAndStart(t, "--target-name", "e2e-point")
		if err := isPrefix(ids(t, copy), named); err != nil {
			t.Fatalf("restore to the restore point made after commit %d: %v", named, err)
		}
	})
	t.Run("immediate", func(t *testing.T) {
		copy := c.restoreAndStart(t, "--target-immediate")
		got := ids(t, copy)
		if len(got) < inBackup || len(got) > afterBackup || isPrefix(got, len(got)) != nil {
			t.Fatalf("restore to the backup's consistency point: %d rows, want a prefix of between %d and %d", len(got), inBackup, afterBackup)
		}
	})
}
