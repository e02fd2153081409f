package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pgkeep/pgkeep/test/azurite"
)

// A server with archive_command = pgkeep archive-push runs pgbench past 20
// segments; every segment the archiver reports is in the repository and
// archive-get returns it byte-identical.
func TestArchiveRoundTrip(t *testing.T) {
	t.Run("posix", func(t *testing.T) { testArchiveRoundTrip(t, posixRepo(t)) })
	t.Run("azure", func(t *testing.T) { testArchiveRoundTrip(t, azureRepo(t, azurite.Start(t))) })
}

func testArchiveRoundTrip(t *testing.T, repo repoSetup) {
	c := startArchiving(t, repo)
	c.pg.Pgbench(t, "-i", "-s", "30", "-q")
	c.pg.Pgbench(t, "-T", "3", "-c", "2")
	last := c.switchAndWait(t)

	archived, err := strconv.Atoi(c.pg.QueryString(t, "SELECT archived_count FROM pg_stat_archiver"))
	if err != nil {
		t.Fatal(err)
	}
	segs := segmentsUpTo(t, last)
	if len(segs) < 20 || archived < len(segs) {
		t.Fatalf("archiver reports %d archived up to %s (%d segments); want at least 20", archived, last, len(segs))
	}

	out := filepath.Join(c.dir, "restored")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	chownDir(t, out)
	for _, seg := range segs {
		dest := filepath.Join(out, seg)
		c.must(t, "archive-get", seg, dest)
		want, err := os.ReadFile(c.walPath(seg))
		if err != nil {
			t.Fatalf("%s left pg_wal before the test read it: %v", seg, err)
		}
		got, err := os.ReadFile(dest)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("archive-get %s: %d bytes differing from pg_wal's %d", seg, len(got), len(want))
		}
	}

	// info agrees: one gapless range on timeline 1 from the first segment to the last.
	rep := c.info(t)
	if len(rep.Clusters) != 1 || len(rep.Clusters[0].WAL.Timelines) != 1 ||
		len(rep.Clusters[0].WAL.Timelines[0].Ranges) != 1 ||
		rep.Clusters[0].WAL.Timelines[0].Ranges[0].First != segs[0] ||
		rep.Clusters[0].WAL.Timelines[0].Ranges[0].Last < last {
		t.Fatalf("info does not show one range %s-%s: %+v", segs[0], last, rep)
	}

	// check switches WAL once more and finds it archived.
	if r := c.must(t, "check", "--pg-host", c.pg.Host, "--pg-port", strconv.Itoa(c.pg.Port)); !bytes.Contains([]byte(r.stdout), []byte("archived")) {
		t.Fatalf("check: %s", r)
	}
}
