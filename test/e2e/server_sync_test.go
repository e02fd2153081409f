package e2e

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// With the receiver as the only synchronous standby, every commit the
// primary acknowledged before kill -9 is recoverable from the repository
// alone (RPO 0 for the archive): the server's last upload takes it from the
// spool.
func TestServerSynchronousArchive(t *testing.T) {
	testSynchronousArchive(t, false)
}

// In the strict variant the receiver reports WAL flushed only once it is in
// the repository: every acknowledged commit survives even when the
// repository server dies at the same instant as the primary (kill -9) and
// its spool is lost.
func TestServerSynchronousStrictArchive(t *testing.T) {
	testSynchronousArchive(t, true)
}

func testSynchronousArchive(t *testing.T, strict bool) {
	c := streamingCluster(t, posixRepo(t), nil)
	s := startServer(t, c, "sync", pgYAML(c)+fmt.Sprintf("server:\n  synchronous: true\n  synchronous-strict: %t\n  partial-interval: 1s\n", strict))
	waitReceiver(t, c.pg, 20*time.Second, "the receiver to stream")
	c.backup(t, "full")
	c.pg.Exec(t, "CREATE TABLE marks (id int PRIMARY KEY)")
	c.pg.Exec(t, `ALTER SYSTEM SET synchronous_standby_names = '"pgkeep"'`)
	c.pg.Reload(t)
	harness.Wait(t, 20*time.Second, "the receiver to be the synchronous standby", func() (bool, error) {
		v, err := c.pg.TryQueryString(t.Context(), "SELECT coalesce(max(sync_state), '') FROM pg_stat_replication WHERE application_name = 'pgkeep'")
		return v == "sync", err
	})

	// Two writers commit one row at a time and record what was acknowledged.
	ctx, cancel := context.WithCancel(t.Context())
	var mu sync.Mutex
	acked := map[int]bool{}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := c.pg.Connect(ctx)
			if err != nil {
				return
			}
			defer conn.Close(context.Background())
			for i := w; ctx.Err() == nil; i += 2 {
				if _, err := conn.Exec(ctx, "INSERT INTO marks VALUES ($1)", i+1); err != nil {
					return
				}
				mu.Lock()
				acked[i+1] = true
				mu.Unlock()
			}
		}()
	}
	time.Sleep(3 * time.Second)
	if strict {
		s.kill() // the repository server first: nothing acknowledged after this
	}
	c.pg.Kill(t) // kill -9 the postmaster and every backend mid-write
	cancel()
	wg.Wait()
	mu.Lock()
	n := len(acked)
	mu.Unlock()
	if n < 50 {
		t.Fatalf("only %d commits acknowledged in 3 s", n)
	}

	if strict {
		if err := os.RemoveAll(s.spool); err != nil { // its disk is lost
			t.Fatal(err)
		}
	} else {
		// The server's last upload takes the acknowledged WAL from its spool.
		harness.Wait(t, 20*time.Second, "the stream to end and upload", func() (bool, error) {
			st, err := s.status(t)
			return err == nil && st.Stream != nil && !st.Stream.Running && st.Stream.Archived >= st.Stream.Flushed, nil
		})
	}
	copy := c.restoreAndStart(t)
	var lost []int
	restored := map[int]bool{}
	for _, id := range ids(t, copy) {
		restored[id] = true
	}
	for id := range acked {
		if !restored[id] {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d acknowledged commits missing from the restore from the repository, e.g. %v", len(lost), n, lost[:min(5, len(lost))])
	}
	t.Logf("%d acknowledged commits, all restored (%d rows)", n, len(restored))
}
