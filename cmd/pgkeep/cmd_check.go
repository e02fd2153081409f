package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/walarchive"
)

func newCheckCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Prove that archive_command and the repository work, end to end",
		Long: `check connects to the primary, switches WAL and waits (archive.timeout) until
the finished segment is in the repository.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, r, c, err := g.openClusterRepo(ctx)
			if err != nil {
				return err
			}
			conn, err := pg.Connect(ctx, connOptions(cfg))
			if err != nil {
				return err
			}
			defer conn.Close(context.WithoutCancel(ctx))
			res, err := walarchive.Check(ctx, conn, r, c, cfg.Archive.Timeout)
			if err != nil {
				return err
			}
			if cfg.Output == "json" {
				return writeJSON(cmd, res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "WAL segment %s archived in %s: archiving to %s works\n",
				res.Segment, res.Waited.Round(1e6), r.Location())
			return nil
		},
	}
}
