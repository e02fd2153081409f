package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pgkeep/pgkeep/configs"
)

// globals are the options every command shares.
type globals struct {
	configFile string
	flags      *configs.Flags
}

// load reads the configuration (defaults < file < env < flags) and sets up
// the default logger from it.
func (g *globals) load() (*configs.Config, error) {
	cfg, err := configs.Load(configs.Options{File: g.configFile, Flags: g.flags})
	if err != nil {
		return nil, err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, usageError{fmt.Errorf("log-level: %w", err)}
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	return cfg, nil
}

// jsonLogger returns a logger writing JSON to stderr at the configured
// level, as the daemons and the async uploader log.
func jsonLogger(cfg *configs.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // checked by load
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// daemonLogging makes a daemon log JSON unless stderr is a terminal.
func daemonLogging(cfg *configs.Config) {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		slog.SetDefault(jsonLogger(cfg))
	}
}

// loadCluster is load for commands that work on one cluster.
func (g *globals) loadCluster() (*configs.Config, error) {
	cfg, err := g.load()
	if err != nil {
		return nil, err
	}
	if err := cfg.RequireCluster(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func newRootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "pgkeep",
		Short: "Keep PostgreSQL clusters alive and recoverable",
		Long: `pgkeep archives WAL, takes and restores backups, and runs failover for
PostgreSQL clusters, from one binary. Settings come from --config FILE, PGKEEP_*
environment variables and flags, in increasing precedence.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configFile, "config", os.Getenv("PGKEEP_CONFIG"), "configuration file (YAML); env PGKEEP_CONFIG")
	g.flags = configs.Bind(root.PersistentFlags(), configs.AllKeys()...)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newVersionCommand(),
		newCreateCommand(g),
		newArchivePushCommand(g),
		newArchiveGetCommand(g),
		newCheckCommand(g),
		newInfoCommand(g),
		newBackupCommand(g),
		newRestoreCommand(g),
		newExpireCommand(g),
		newVerifyCommand(g),
		newServerCommand(g),
		newHACommand(g),
		newDemoCommand(),
		newCtlCommand(g),
	)
	return root
}

// exactArgs is cobra.ExactArgs returning a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
		}
		return nil
	}
}

// oneShot tunes the runtime for the short archive hooks, which PostgreSQL
// starts once per WAL file: no garbage collection until the heap nears a
// limit no push or get comes close to (they stream through small buffers).
func oneShot() {
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(256 << 20)
}
