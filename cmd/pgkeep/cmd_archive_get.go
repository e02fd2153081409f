package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pgkeep/pgkeep/configs"
	"github.com/pgkeep/pgkeep/walarchive"
)

// archiveGetOptions are the hidden flags of the async prefetcher, which
// archive-get starts as `pgkeep archive-get --prefetch-worker`.
type archiveGetOptions struct {
	worker bool
	pgdata string
	idle   time.Duration
}

func (o *archiveGetOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.worker, "prefetch-worker", false, "run the async prefetcher of a data directory's spool (started by archive-get)")
	fs.StringVar(&o.pgdata, "prefetch-pgdata", "", "async prefetcher: the data directory in recovery")
	fs.DurationVar(&o.idle, "prefetch-idle", 30*time.Second, "async prefetcher: exit after archive-get has not been called this long")
	for _, name := range []string{"prefetch-worker", "prefetch-pgdata", "prefetch-idle"} {
		_ = fs.MarkHidden(name)
	}
}

func newArchiveGetCommand(g *globals) *cobra.Command {
	var o archiveGetOptions
	cmd := &cobra.Command{
		Use:   "archive-get WALNAME DEST",
		Short: "restore_command hook: fetch a WAL file from the repository",
		Long: `archive-get fetches, verifies and decompresses one WAL file to DEST. Use it as
  restore_command = 'pgkeep archive-get %f "%p"'
Exit 0: DEST is complete and verified. Exit 1, silently: the file is not in the
archive (the normal end of recovery). Any other problem (damaged object,
unreachable or unknown repository or cluster) exits 3 or more with a message, so
PostgreSQL never mistakes it for the end of the archive.

With archive.async (--async, --archive-async) a background prefetcher, started as needed,
fetches and verifies the segments after the one asked for (archive.get-queue-max-mb
of them, archive.process-max at a time) into the local spool (archive.spool-path),
and archive-get hands them out from there. A segment the spool does not hold is
fetched as without async, with the same exit codes.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.worker {
				return exactArgs(0)(cmd, args)
			}
			return exactArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.worker {
				return runPrefetcher(cmd.Context(), g, o)
			}
			oneShot()
			cfg, err := g.loadCluster()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			fetch := func(ctx context.Context, name, dest string) error {
				r, c, err := openCluster(ctx, cfg)
				if err != nil {
					return err
				}
				// After a pg_upgrade, a restore of a backup from before it
				// replays the WAL of the system it was taken from.
				return walarchive.Get(ctx, r, walarchive.Generation(c, recoveringDataDir(dest)), name, dest)
			}
			if prefetching(cfg) {
				err = asyncGet(cmd, cfg, args[0], args[1], fetch)
			} else {
				err = fetch(ctx, args[0], args[1])
			}
			if errors.Is(err, walarchive.ErrNotFound) {
				return silentNotFound{err}
			}
			return err
		},
	}
	o.addFlags(cmd.Flags())
	g.flags.Alias(cmd.Flags(), "async", "archive.async", "asynchronous archive-get (archive.async, as --archive-async): prefetch the next segments")
	return cmd
}

// prefetching reports whether archive-get prefetches (archive.async with a
// prefetch queue).
func prefetching(cfg *configs.Config) bool {
	return cfg.Archive.Async && cfg.Archive.GetQueueMaxMB > 0
}
