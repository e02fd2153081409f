package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pgkeep/pgkeep/basebackup"
	"github.com/pgkeep/pgkeep/configs"
	"github.com/pgkeep/pgkeep/internal/units"
	"github.com/pgkeep/pgkeep/repo"
)

type backupOptions struct {
	typ string
}

func newBackupCommand(g *globals) *cobra.Command {
	o := &backupOptions{}
	cmd := &cobra.Command{
		Use:   "backup --type full|diff|incr",
		Short: "Take a base backup of the cluster's leader (or a replica, or --pg-host)",
		Long: `backup streams BASE_BACKUP from the server holding the cluster's leader key in
etcd (Patroni layout), or from --pg-host/--pg-port when given, or from a healthy
replica with --backup-standby, into the repository. diff stores only files changed
since the last full backup, incr only those changed since the last backup. The
backup is listed only once its WAL is archived and its manifest written.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadCluster()
			if err != nil {
				return err
			}
			return runBackup(cmd, cfg, o)
		},
	}
	cmd.Flags().StringVar(&o.typ, "type", repo.BackupFull, "backup type: full, diff or incr")
	return cmd
}

func runBackup(cmd *cobra.Command, cfg *configs.Config, o *backupOptions) error {
	switch o.typ {
	case repo.BackupFull, repo.BackupDiff, repo.BackupIncr:
	default:
		return usageError{fmt.Errorf("--type %q: want full, diff or incr", o.typ)}
	}
	ctx := cmd.Context()
	r, c, err := openCluster(ctx, cfg)
	if err != nil {
		return err
	}
	src, err := basebackup.Discover(ctx, discoverOptions(cfg, c))
	if err != nil {
		return err
	}
	lock, done, err := locker(cfg, r)
	if err != nil {
		return err
	}
	defer done()
	opts := basebackup.Options{
		Repo: r, Cluster: c, Source: src, Type: o.typ, Locker: lock,
		Workers: cfg.Backup.Workers, ConfigFiles: cfg.Backup.ConfigFiles, WALTimeout: cfg.Archive.Timeout,
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		opts.Progress = os.Stderr
	}
	start := time.Now()
	m, err := basebackup.Run(ctx, opts)
	if err != nil {
		return err
	}
	if cfg.Output == "json" {
		return writeJSON(cmd, m)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "backup %s (%s) from %s: %s in %d files, %s stored, %s to %s, %.1fs\n",
		m.Label, m.Type, m.Source, units.Bytes(m.Size), len(m.Files), units.Bytes(m.StoredSize), m.StartLSN, m.StopLSN,
		time.Since(start).Seconds())
	return nil
}

// discoverOptions: a configured host bypasses etcd; otherwise the leader key
// is read when etcd endpoints are configured; otherwise libpq's defaults.
func discoverOptions(cfg *configs.Config, c *repo.ClusterInfo) basebackup.DiscoverOptions {
	d := basebackup.DiscoverOptions{
		Endpoints: cfg.Etcd.Endpoints, Namespace: cfg.Etcd.Namespace, Cluster: cfg.Cluster,
		Standby: cfg.Backup.Standby, User: cfg.PG.User, Database: cfg.PG.Database, SystemID: c.SystemID,
	}
	if cfg.PG.Host != "" || len(cfg.Etcd.Endpoints) == 0 {
		conn := connOptions(cfg)
		d.Direct = &conn
	}
	return d
}
