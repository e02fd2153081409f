package basebackup

import (
	"context"
	"fmt"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/walarchive"
)

// waitForWAL waits until every segment from the backup's start to its stop
// is archived: without them the backup cannot become consistent, so the
// manifest is not written before.
func waitForWAL(ctx context.Context, r *repo.Repo, c *repo.ClusterInfo, m *repo.Manifest, timeout time.Duration) error {
	first, _ := pg.ParseWALName(m.StartWAL)
	last, _ := pg.ParseWALName(m.StopWAL)
	deadline := time.Now().Add(timeout)
	for no := first.SegNo(m.WALSegmentSize); no <= last.SegNo(m.WALSegmentSize); no++ {
		name := pg.SegmentName(m.Timeline, no, m.WALSegmentSize)
		for delay := 20 * time.Millisecond; ; delay = min(2*delay, 250*time.Millisecond) {
			ok, err := walarchive.Exists(ctx, r, c, name)
			if err != nil {
				return fmt.Errorf("look for WAL %s: %w", name, err)
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("WAL segment %s, needed by backup %s (%s to %s), was not archived within %s: is archive_command working? (pgkeep check); the backup is not kept",
					name, m.Label, m.StartWAL, m.StopWAL, timeout)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(delay):
			}
		}
	}
	return nil
}
