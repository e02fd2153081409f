package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/azurite"
	"github.com/pgkeep/pgkeep/test/harness"
)

// The receiver and archive_command = pgkeep archive-push, side by side,
// never conflict: both store the same bytes under the same names.
func TestServerBesideArchiveCommand(t *testing.T) {
	c := startArchiving(t, posixRepo(t))
	s := startServer(t, c, "beside", pgYAML(c)+"server:\n  partial-interval: 1s\n")
	waitReceiver(t, c.pg, 20*time.Second, "the receiver to stream")
	c.pg.Pgbench(t, "-i", "-s", "10", "-q")
	c.pg.Pgbench(t, "-T", "3", "-c", "2")
	last := c.switchAndWait(t) // archive_command pushed every segment: no failure
	s.waitArchived(t, c, 20*time.Second)
	st, err := s.status(t)
	if err != nil || st.Stream == nil || st.Stream.UploadError != "" {
		t.Fatalf("receiver beside archive_command: %+v, %v\n%s", st.Stream, err, s.logTail())
	}
	if strings.Contains(s.logTail(), "conflict") || strings.Contains(s.logTail(), `"level":"ERROR"`) {
		t.Fatalf("the receiver reports a problem beside archive_command:\n%s", s.logTail())
	}
	dest := filepath.Join(c.dir, "last")
	c.must(t, "archive-get", last, dest)
	got, _ := os.ReadFile(dest)
	want, _ := os.ReadFile(c.walPath(last))
	if !bytes.Equal(got, want) {
		t.Fatalf("%s in the repository differs from pg_wal's", last)
	}
	if failed := c.pg.QueryString(t, "SELECT failed_count FROM pg_stat_archiver"); failed != "0" {
		t.Fatalf("archive_command failed %s times beside the receiver", failed)
	}
	s.stop(t)
}

// Streaming into Azure Blob Storage (Azurite): segments arrive
// byte-identical, the .partial bounds the lag.
func TestServerStreamsIntoAzure(t *testing.T) {
	c := streamingCluster(t, azureRepo(t, azurite.Start(t)), nil)
	s := startServer(t, c, "azure", pgYAML(c)+"server:\n  partial-interval: 1s\n")
	c.pg.Exec(t, "CREATE TABLE az AS SELECT generate_series(1, 100000) AS id")
	last := c.pg.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())")
	dest := filepath.Join(c.dir, "last")
	harness.Wait(t, 20*time.Second, last+" in Azure", func() (bool, error) {
		return c.run(t, "archive-get", last, dest).code == 0, nil
	})
	got, _ := os.ReadFile(dest)
	want, _ := os.ReadFile(c.walPath(last))
	if !bytes.Equal(got, want) {
		t.Fatalf("%s streamed into Azure differs from pg_wal's", last)
	}
	c.pg.Exec(t, "INSERT INTO az VALUES (0)")
	s.waitArchived(t, c, 10*time.Second)
	cur := c.pg.QueryString(t, "SELECT pg_walfile_name(pg_current_wal_flush_lsn())")
	// The unfinished segment is served from its .partial, zero-filled.
	c.must(t, "archive-get", cur, dest+".cur")
	if fi, err := os.Stat(dest + ".cur"); err != nil || fi.Size() != 16<<20 {
		t.Fatalf("archive-get %s from the .partial: %v, %v", cur, fi, err)
	}
	s.stop(t)
}
