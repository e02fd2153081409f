package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/pgkeep/pgkeep/walarchive"
)

func newArchiveGetCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "archive-get WALNAME DEST",
		Short: "restore_command hook: fetch a WAL file from the repository",
		Long: `archive-get fetches, verifies and decompresses one WAL file to DEST. Use it as
  restore_command = 'pgkeep archive-get %f "%p"'
Exit 0: DEST is complete and verified. Exit 1, silently: the file is not in the
archive (the normal end of recovery). Any other problem (damaged object,
unreachable or unknown repository or cluster) exits 3 or more with a message, so
PostgreSQL never mistakes it for the end of the archive.`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			oneShot()
			cfg, err := g.loadCluster()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			r, err := openRepo(ctx, cfg)
			if err != nil {
				return err
			}
			err = walarchive.Get(ctx, r, cfg.Cluster, args[0], args[1])
			if errors.Is(err, walarchive.ErrNotFound) {
				return silentNotFound{err}
			}
			return err
		},
	}
}
