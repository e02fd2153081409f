package walarchive

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
)

// CheckResult is what Check proved.
type CheckResult struct {
	Segment string        `json:"segment"`
	Waited  time.Duration `json:"waited"`
}

// Check proves that the server's archiving reaches the repository: it
// writes a restore point, switches WAL and waits until the finished segment
// is in the archive, like `pgbackrest check`.
func Check(ctx context.Context, conn *pgx.Conn, r *repo.Repo, c *repo.ClusterInfo, timeout time.Duration) (CheckResult, error) {
	info, err := pg.QueryServerInfo(ctx, conn)
	if err != nil {
		return CheckResult{}, err
	}
	if info.SystemID != c.SystemID {
		return CheckResult{}, fmt.Errorf("server has system identifier %d, cluster %q in the repository has %d%s: %w",
			info.SystemID, c.Name, c.SystemID, repo.UpgradeHint(c, info.SystemID), repo.ErrClusterMismatch)
	}
	if info.InRecovery {
		return CheckResult{}, fmt.Errorf("the server is a standby: run check against the primary")
	}
	if info.ArchiveMode == "off" {
		return CheckResult{}, fmt.Errorf("archive_mode is off on the server: set archive_mode = on and archive_command = 'pgkeep archive-push %%p'")
	}
	var seg string
	if err := conn.QueryRow(ctx, `SELECT pg_walfile_name(pg_switch_wal()) FROM pg_create_restore_point('pgkeep check')`).Scan(&seg); err != nil {
		return CheckResult{}, fmt.Errorf("switch WAL: %w", err)
	}
	start := time.Now()
	deadline := start.Add(timeout)
	for delay := 20 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		ok, err := Exists(ctx, r, c, seg)
		if err != nil {
			return CheckResult{}, fmt.Errorf("look for %s in the archive: %w", seg, err)
		}
		if ok {
			return CheckResult{Segment: seg, Waited: time.Since(start)}, nil
		}
		if time.Now().After(deadline) {
			return CheckResult{}, fmt.Errorf("WAL segment %s was not archived within %s%s", seg, timeout, archiverStatus(ctx, conn))
		}
		select {
		case <-ctx.Done():
			return CheckResult{}, ctx.Err()
		case <-time.After(delay):
		}
	}
}

// archiverStatus describes pg_stat_archiver's last failure, for messages.
func archiverStatus(ctx context.Context, conn *pgx.Conn) string {
	var failed int64
	var last *string
	var at *time.Time
	err := conn.QueryRow(ctx, `SELECT failed_count, last_failed_wal, last_failed_time FROM pg_stat_archiver`).Scan(&failed, &last, &at)
	if err != nil || last == nil {
		return "; pg_stat_archiver reports no failure: is archive_command set to pgkeep archive-push with this repository and cluster?"
	}
	return fmt.Sprintf("; pg_stat_archiver: %d failures, last %s at %s (see the server log for archive_command's error)", failed, *last, at.Format(time.RFC3339))
}
