package main

import (
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pgkeep/pgkeep/walarchive"
)

// archivePushOptions are the hidden flags of the async uploader, which
// archive-push starts as `pgkeep archive-push --async-worker`.
type archivePushOptions struct {
	worker bool
	idle   time.Duration
	walDir string
}

func (o *archivePushOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.worker, "async-worker", false, "run the async uploader of the spool (started by archive-push)")
	fs.DurationVar(&o.idle, "async-idle", 30*time.Second, "async uploader: exit after the spool has been empty this long")
	fs.StringVar(&o.walDir, "async-wal-dir", "", "async uploader: pg_wal to look ahead at archive_status/*.ready")
	for _, name := range []string{"async-worker", "async-idle", "async-wal-dir"} {
		_ = fs.MarkHidden(name)
	}
}

func newArchivePushCommand(g *globals) *cobra.Command {
	var o archivePushOptions
	cmd := &cobra.Command{
		Use:   "archive-push WALPATH",
		Short: "archive_command hook: store a WAL file in the repository",
		Long: `archive-push compresses, checksums and stores one WAL file (segment, .partial,
.history or .backup) and exits 0 only once it is durable. Use it as
  archive_command = 'pgkeep archive-push %p'
Pushing a file that is already archived with the same content succeeds; different
content under the same name fails and changes nothing.

With archive.async (--async, --archive-async) it exits 0 once the file is durable in the
local spool (archive.spool-path) and a background uploader, started as needed,
stores spooled files with archive.process-max parallel uploads. It fails, and
PostgreSQL keeps the file and retries, when the spool holds archive.queue-max-mb
or more, or the uploader has been failing for archive.timeout or hit a conflict.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.worker {
				return exactArgs(0)(cmd, args)
			}
			return exactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.worker {
				return runArchiveUploader(cmd.Context(), g, o)
			}
			oneShot()
			ctx := cmd.Context()
			cfg, err := g.loadCluster()
			if err != nil {
				return err
			}
			if cfg.Archive.Async {
				return runAsyncPush(cmd, cfg, args[0])
			}
			r, c, err := openCluster(ctx, cfg)
			if err != nil {
				return err
			}
			res, err := walarchive.Push(ctx, r, c, args[0], slog.Default())
			if err != nil {
				return err
			}
			slog.Debug("archived", "wal", res.Name, "bytes", res.Size, "already", res.Already)
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	g.flags.Alias(cmd.Flags(), "async", "archive.async", "asynchronous archiving (archive.async, as --archive-async): exit once the file is in the local spool")
	return cmd
}
