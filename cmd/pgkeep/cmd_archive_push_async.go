package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pgkeep/pgkeep/configs"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/walarchive/asyncpush"
)

// runAsyncPush accepts the WAL file at path into the spool and makes sure
// an uploader runs, whether or not the file was accepted.
func runAsyncPush(cmd *cobra.Command, cfg *configs.Config, path string) error {
	ctx := cmd.Context()
	dir := asyncpush.Dir(cfg.Archive.SpoolPath, cfg.Cluster)
	fg := asyncpush.Foreground{
		Dir:       dir,
		QueueMax:  int64(cfg.Archive.QueueMaxMB) << 20,
		FailAfter: cfg.Archive.Timeout,
		Cluster: func(ctx context.Context) (*repo.ClusterInfo, error) {
			_, c, err := openCluster(ctx, cfg)
			return c, err
		},
	}
	outcome, err := fg.Push(ctx, path)
	argv, aerr := uploaderArgv(cmd, walDir(cfg, path))
	if aerr == nil {
		_, aerr = asyncpush.EnsureUploader(dir, argv)
	}
	if err != nil {
		if aerr != nil {
			slog.Error("cannot start the async uploader", "err", aerr)
		}
		return err
	}
	if aerr != nil {
		return fmt.Errorf("%s is in the spool, but: %w", filepath.Base(path), aerr)
	}
	slog.Debug("accepted into the async spool", "wal", filepath.Base(path), "outcome", outcome)
	return nil
}

// walDir is the server's pg_wal for the uploader's look-ahead: pg.data's,
// else the directory of the pushed file (archive_command's %p is
// pg_wal/<name>, relative to PGDATA).
func walDir(cfg *configs.Config, path string) string {
	if cfg.PG.Data != "" {
		return filepath.Join(cfg.PG.Data, "pg_wal")
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return ""
	}
	return dir
}

// uploaderArgv is the uploader's command line: this program with the
// flags this archive-push was given, so that it reads the same settings.
func uploaderArgv(cmd *cobra.Command, walDir string) ([]string, error) {
	extra := []string{"--async-worker"}
	if walDir != "" {
		extra = append(extra, "--async-wal-dir="+walDir)
	}
	return workerArgv(cmd, "archive-push", []string{"async-worker", "async-wal-dir"}, extra...)
}

// workerArgv is the command line of a hook's background worker: this
// program, the subcommand, the flags the hook was given but those named in
// skip, then extra: so the worker reads the same settings.
func workerArgv(cmd *cobra.Command, sub string, skip []string, extra ...string) ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start the %s worker: %w", sub, err)
	}
	argv := []string{exe, sub}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if !slices.Contains(skip, f.Name) {
			argv = append(argv, "--"+f.Name+"="+f.Value.String())
		}
	})
	return append(argv, extra...), nil
}

// runArchiveUploader is `archive-push --async-worker`: the uploader, logging
// JSON to its log file in the spool.
func runArchiveUploader(ctx context.Context, g *globals, o archivePushOptions) error {
	cfg, err := g.loadCluster()
	if err != nil {
		return err
	}
	log := jsonLogger(cfg).With("pid", os.Getpid())
	slog.SetDefault(log)
	if cfg.Archive.SpoolPath == "" {
		return usageError{fmt.Errorf("archive-push --async-worker: archive.spool-path is not set")}
	}
	u := asyncpush.Uploader{
		Dir:        asyncpush.Dir(cfg.Archive.SpoolPath, cfg.Cluster),
		WALDir:     o.walDir,
		ProcessMax: cfg.Archive.ProcessMax,
		Idle:       o.idle,
		Open: func(ctx context.Context) (*repo.Repo, *repo.ClusterInfo, error) {
			return openCluster(ctx, cfg)
		},
		Log: log,
	}
	return u.Run(ctx)
}
