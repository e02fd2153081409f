package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/pgkeep/pgkeep/configs"
	"github.com/pgkeep/pgkeep/internal/detach"
	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/walarchive/asyncget"
)

// asyncGet is archive-get with the prefetcher: the segment from the spool
// when it is there, else fetch's. Without a readable pg_control in the
// data directory (archive-get run by hand to some other file) there is no
// spool to use, and it is fetch alone.
func asyncGet(cmd *cobra.Command, cfg *configs.Config, name, dest string,
	fetch func(ctx context.Context, name, dest string) error) error {
	ctx := cmd.Context()
	pgdata := recoveringDataDir(dest)
	sysid, err := pg.ReadSystemID(pgdata)
	if err != nil {
		slog.Debug("async archive-get: no data directory to prefetch for; fetching directly", "pgdata", pgdata, "err", err)
		return fetch(ctx, name, dest)
	}
	dir := asyncget.Dir(cfg.Archive.SpoolPath, cfg.Cluster, sysid, pgdata)
	fg := asyncget.Foreground{
		Dir: dir,
		Start: func() error {
			argv, err := workerArgv(cmd, "archive-get", nil, "--prefetch-worker", "--prefetch-pgdata="+pgdata)
			if err == nil {
				_, err = detach.Start(asyncget.LockPath(dir), asyncget.LogPath(dir), argv)
			}
			return err
		},
		Fetch: fetch,
		Log:   slog.Default(),
	}
	fromSpool, err := fg.Get(ctx, name, dest)
	slog.Debug("archive-get", "wal", name, "prefetched", fromSpool, "err", err)
	return err
}

// recoveringDataDir is the data directory archive-get restores into: the
// parent of DEST's directory, since PostgreSQL runs restore_command in the
// data directory with %p = pg_wal/RECOVERYXLOG. (pg.data is not used: a
// restore into another directory runs with the same configuration.)
func recoveringDataDir(dest string) string {
	abs, err := filepath.Abs(dest)
	if err != nil {
		return ""
	}
	return filepath.Dir(filepath.Dir(abs))
}

// runPrefetcher is `archive-get --prefetch-worker`: the prefetcher of one
// data directory's spool, logging JSON to its log file there.
func runPrefetcher(ctx context.Context, g *globals, o archiveGetOptions) error {
	cfg, err := g.loadCluster()
	if err != nil {
		return err
	}
	log := jsonLogger(cfg).With("pid", os.Getpid())
	slog.SetDefault(log)
	if cfg.Archive.SpoolPath == "" || o.pgdata == "" {
		return usageError{fmt.Errorf("archive-get --prefetch-worker: needs archive.spool-path and --prefetch-pgdata")}
	}
	sysid, err := pg.ReadSystemID(o.pgdata)
	if err != nil {
		return fmt.Errorf("archive-get --prefetch-worker: %w", err)
	}
	p := asyncget.Prefetcher{
		Dir:        asyncget.Dir(cfg.Archive.SpoolPath, cfg.Cluster, sysid, o.pgdata),
		SystemID:   sysid,
		QueueMax:   int64(cfg.Archive.GetQueueMaxMB) << 20,
		ProcessMax: cfg.Archive.ProcessMax,
		Idle:       o.idle,
		Open: func(ctx context.Context) (*repo.Repo, *repo.ClusterInfo, error) {
			return openCluster(ctx, cfg)
		},
		Log: log,
	}
	return p.Run(ctx)
}
