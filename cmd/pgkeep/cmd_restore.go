package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pgkeep/pgkeep/configs"
	"github.com/pgkeep/pgkeep/restore"
)

// originalPaths is the value --restore-config takes without =DIR.
const originalPaths = "original"

type restoreOptions struct {
	set            string
	target         restore.TargetSpec
	typ            string
	delta, force   bool
	tablespaceMap  []string
	restoreConfig  string // "": not restored; originalPaths; or a directory
	workers        int
	restoreCommand string
}

// AddFlags registers restore's own flags (--pgdata is the global pg.data).
func (o *restoreOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.set, "set", "", "backup label to restore (default: the newest backup that reaches the target)")
	fs.StringVar(&o.target.Time, "target-time", "", "recover to this time: RFC 3339 or 'YYYY-MM-DD HH:MM:SS[.ffffff][+TZ]' (no zone: local time)")
	fs.StringVar(&o.target.LSN, "target-lsn", "", "recover to this WAL position (X/X)")
	fs.StringVar(&o.target.XID, "target-xid", "", "recover to this transaction id")
	fs.StringVar(&o.target.Name, "target-name", "", "recover to this restore point (pg_create_restore_point)")
	fs.BoolVar(&o.target.Immediate, "target-immediate", false, "recover only to the end of the backup (its consistency point)")
	fs.StringVar(&o.target.Action, "target-action", "", "at the target: promote (default when a target is given), pause or shutdown")
	fs.StringVar(&o.target.Timeline, "target-timeline", "latest", "timeline to recover along: latest, current or a number")
	fs.BoolVar(&o.target.Exclusive, "target-exclusive", false, "stop just before the target time, LSN or xid instead of just after")
	fs.StringVar(&o.typ, "type", restore.TypeDefault, "default (recovery.signal) or standby (standby.signal, follows the archive)")
	fs.BoolVar(&o.delta, "delta", false, "restore over an existing data directory, rewriting only parts whose checksum differs")
	fs.BoolVar(&o.force, "force", false, "wipe a non-empty data directory and tablespace directories first")
	fs.StringArrayVar(&o.tablespaceMap, "tablespace-map", nil, "OID=DIR: restore tablespace OID into DIR instead of its original location (repeatable)")
	fs.StringVar(&o.restoreConfig, "restore-config", "", "restore the configuration files captured from outside PGDATA: to their original paths, or with =DIR into DIR")
	fs.Lookup("restore-config").NoOptDefVal = originalPaths
	fs.IntVar(&o.workers, "workers", 0, "file parts fetched and written in parallel (0: backup.workers, else three per core)")
	fs.StringVar(&o.restoreCommand, "restore-command", "", "restore_command to write (default: this pgkeep with the restore's config and repository flags)")
}

func newRestoreCommand(g *globals) *cobra.Command {
	o := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore --pgdata DIR [--set LABEL] [--target-time T | --target-lsn L | --target-xid X | --target-name N | --target-immediate]",
		Short: "Restore a backup into a data directory and configure recovery from the archive",
		Long: `restore writes a backup set into --pgdata (which must be empty, or use --delta or
--force), verifying every checksum, and configures recovery: restore_command
pointing at pgkeep archive-get, the recovery target, and recovery.signal (or
standby.signal with --type standby). Without --set, the newest backup whose
recovery window contains the target is chosen; a target outside every window is
refused before anything is written. global/pg_control is written last, so an
interrupted restore leaves a directory PostgreSQL refuses to start.
With a target, the default --target-action is promote (PostgreSQL's own default
is pause). --restore-config[=DIR] also restores configuration files captured from
outside PGDATA, to their original paths or into DIR.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadCluster()
			if err != nil {
				return err
			}
			return runRestore(cmd, g, cfg, o)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runRestore(cmd *cobra.Command, g *globals, cfg *configs.Config, o *restoreOptions) error {
	opts, err := o.options(cfg)
	if err != nil {
		return usageError{err}
	}
	if opts.RestoreCommand == "" {
		if opts.RestoreCommand, err = defaultRestoreCommand(g, cfg); err != nil {
			return err
		}
	}
	if err := opts.Validate(); err != nil {
		return usageError{err}
	}
	slog.Debug("restore", "restore_command", opts.RestoreCommand)
	ctx := cmd.Context()
	r, c, err := openCluster(ctx, cfg)
	if err != nil {
		return err
	}
	res, err := restore.Run(ctx, r, c, opts)
	if restore.IsUsage(err) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	if cfg.Output == "json" {
		return writeJSON(cmd, res)
	}
	fmt.Fprintln(cmd.OutOrStdout(), res.Summary())
	return nil
}

// options checks the flags; every error is the caller's mistake.
func (o *restoreOptions) options(cfg *configs.Config) (restore.Options, error) {
	opts := restore.Options{PGData: cfg.PG.Data, Set: o.set, Type: o.typ, Delta: o.delta, Force: o.force,
		Workers: o.workers, RestoreCommand: o.restoreCommand, Logger: slog.Default()}
	if opts.PGData == "" {
		return opts, fmt.Errorf("restore needs the data directory to write: --pgdata DIR (pg.data)")
	}
	if o.workers < 0 {
		return opts, fmt.Errorf("--workers %d: want a positive number, or 0 for the default", o.workers)
	}
	if opts.Workers == 0 {
		opts.Workers = cfg.Backup.Workers // 0 too: three per core
	}
	var err error
	if opts.Target, err = restore.ParseTarget(o.target, time.Local); err != nil {
		return opts, err
	}
	if opts.TablespaceMap, err = restore.ParseTablespaceMap(o.tablespaceMap); err != nil {
		return opts, err
	}
	if o.restoreConfig != "" {
		opts.RestoreConfig = true
		if o.restoreConfig != originalPaths {
			if opts.ConfigDir, err = filepath.Abs(o.restoreConfig); err != nil {
				return opts, fmt.Errorf("--restore-config %s: %w", o.restoreConfig, err)
			}
		}
	}
	return opts, nil
}

// repoSetting is a repository setting that archive-get needs to find the
// repository, as a flag.
type repoSetting struct {
	flag   string
	isPath bool
	get    func(*configs.Config) string
}

var repoSettings = []repoSetting{
	{"repo-type", false, func(c *configs.Config) string { return c.Repo.Type }},
	{"repo-path", true, func(c *configs.Config) string { return c.Repo.Path }},
	{"repo-server", false, func(c *configs.Config) string { return c.Repo.Server }},
	{"repo-azure-account", false, func(c *configs.Config) string { return c.Repo.Azure.Account }},
	{"repo-azure-container", false, func(c *configs.Config) string { return c.Repo.Azure.Container }},
	{"repo-azure-endpoint", false, func(c *configs.Config) string { return c.Repo.Azure.Endpoint }},
	{"repo-azure-key-file", true, func(c *configs.Config) string { return c.Repo.Azure.KeyFile }},
	{"repo-azure-sas-file", true, func(c *configs.Config) string { return c.Repo.Azure.SASFile }},
	{"repo-azure-connection-string-file", true, func(c *configs.Config) string { return c.Repo.Azure.ConnectionStringFile }},
	{"repo-cipher-pass-file", true, func(c *configs.Config) string { return c.Repo.CipherPassFile }},
}

// defaultRestoreCommand is this pgkeep binary with the config file and
// cluster of this run, plus the repository settings that the config file
// alone would not give (they came from flags or the environment, which
// the PostgreSQL server does not share). Secrets never go on the command
// line: a secret that came from the environment must be in the server's.
func defaultRestoreCommand(g *globals, cfg *configs.Config) (string, error) {
	bin, args, err := hookCommand(g, cfg)
	if err != nil {
		return "", fmt.Errorf("restore_command: %w (set --restore-command)", err)
	}
	return restore.RestoreCommand(bin, args...), nil
}

// hookCommand is this pgkeep binary and the arguments that make it find
// the repository of cfg's cluster, for restore_command and
// archive_command.
func hookCommand(g *globals, cfg *configs.Config) (string, []string, error) {
	bin, err := os.Executable()
	if err != nil {
		return "", nil, fmt.Errorf("find the pgkeep binary: %w", err)
	}
	base := configs.Defaults()
	var args []string
	if g.configFile != "" {
		abs, err := filepath.Abs(g.configFile)
		if err != nil {
			return "", nil, err
		}
		args = append(args, "--config", abs)
		if fileOnly, err := configs.Load(configs.Options{File: g.configFile, Env: []string{}}); err == nil {
			base = fileOnly
		}
	}
	args = append(args, "--cluster", cfg.Cluster)
	for _, s := range repoSettings {
		v := s.get(cfg)
		if v == s.get(base) {
			continue
		}
		if s.isPath && v != "" {
			if v, err = filepath.Abs(v); err != nil {
				return "", nil, fmt.Errorf("--%s: %w", s.flag, err)
			}
		}
		args = append(args, "--"+s.flag, v)
	}
	for _, env := range []string{"PGKEEP_REPO_CIPHER_PASS", "PGKEEP_REPO_AZURE_KEY", "PGKEEP_REPO_AZURE_SAS", "PGKEEP_REPO_AZURE_CONNECTION_STRING"} {
		if os.Getenv(env) != "" {
			slog.Warn("restore_command and archive_command will need " + env + " in the PostgreSQL server's environment (secrets are never written to the command line); or configure the matching -file setting")
		}
	}
	return bin, args, nil
}
