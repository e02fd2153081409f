package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pgkeep/pgkeep/internal/units"
	"github.com/pgkeep/pgkeep/repo"
)

func newVerifyCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Re-read every backup and WAL object and check every checksum and WAL chain",
		Long: `verify reads every object the cluster has in the repository and checks it: every
manifest, every file of every backup against the manifest's checksum, every WAL
object, the WAL each backup needs to become consistent, and gaps in the WAL of each
timeline from the oldest backup's start on. Leftovers of interrupted backups and
unknown objects are notices. It prints one line per problem and exits 3 when there
is an error.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, r, c, err := g.openClusterRepo(ctx)
			if err != nil {
				return err
			}
			rep, err := r.Verify(ctx, c, repo.VerifyOptions{})
			if err != nil {
				return err
			}
			if cfg.Output == "json" {
				if err := writeJSON(cmd, rep); err != nil {
					return err
				}
			} else {
				printVerify(cmd.OutOrStdout(), rep)
			}
			if rep.Errors > 0 {
				return fmt.Errorf("verify %s: %d errors (%d notices)", c.Name, rep.Errors, rep.Notices)
			}
			return nil
		},
	}
}

func printVerify(w io.Writer, rep *repo.VerifyReport) {
	for _, p := range rep.Problems {
		fmt.Fprintln(w, p.String())
	}
	fmt.Fprintf(w, "verified cluster %s: %d backups (%d files, %d parts), %d WAL objects, %s read: %d errors, %d notices\n",
		rep.Cluster, rep.Backups, rep.Files, rep.Parts, rep.WALObjects, units.Bytes(rep.Bytes), rep.Errors, rep.Notices)
}
