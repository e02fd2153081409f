package main

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/pgkeep/pgkeep/walarchive"
)

func newArchivePushCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "archive-push WALPATH",
		Short: "archive_command hook: store a WAL file in the repository",
		Long: `archive-push compresses, checksums and stores one WAL file (segment, .partial,
.history or .backup) and exits 0 only once it is durable. Use it as
  archive_command = 'pgkeep archive-push %p'
Pushing a file that is already archived with the same content succeeds; different
content under the same name fails and changes nothing.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			oneShot()
			ctx := cmd.Context()
			_, r, c, err := g.openClusterRepo(ctx)
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
}
