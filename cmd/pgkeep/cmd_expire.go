package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pgkeep/pgkeep/configs"
	"github.com/pgkeep/pgkeep/internal/units"
	"github.com/pgkeep/pgkeep/repo"
)

func newExpireCommand(g *globals) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "expire [--retention-full N] [--retention-diff N] [--retention-days D] [--dry-run]",
		Short: "Remove backups and WAL that the retention rules no longer keep",
		Long: `expire removes old backups and the archived WAL that no remaining backup needs,
under the cluster's lock (it waits for no backup: a running one makes it fail).
  --retention-full N  keep the newest N full backups and every diff/incr of them
  --retention-diff N  keep the newest N diff backups; incrs of an expired diff go too
  --retention-days D  keep what restoring to any time in the last D days needs:
                      the newest backup finished before then and everything newer
With several rules, a backup goes when a count rule expires it and the days rule
does not need it; a backup that a kept backup references always stays. WAL older
than the start of the oldest kept backup goes; history files stay. --dry-run lists
what would go and changes nothing. The rules may also come from the config file
(retention: full/diff/days) or PGKEEP_RETENTION_FULL and friends.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadCluster()
			if err != nil {
				return err
			}
			if !cfg.Retention.Any() {
				return usageError{errors.New("expire: nothing to do without a retention rule: give --retention-full, --retention-diff or --retention-days")}
			}
			ctx := cmd.Context()
			r, c, err := openCluster(ctx, cfg)
			if err != nil {
				return err
			}
			lock, done, err := locker(cfg, r)
			if err != nil {
				return err
			}
			defer done()
			res, err := r.Expire(ctx, c, retention(cfg), repo.ExpireOptions{DryRun: dryRun, Locker: lock})
			if res != nil && err == nil {
				if cfg.Output == "json" {
					return writeJSON(cmd, res)
				}
				printExpire(cmd.OutOrStdout(), res)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be removed, change nothing")
	return cmd
}

// retention is the configured retention rules.
func retention(cfg *configs.Config) repo.Retention {
	return repo.Retention{Full: cfg.Retention.Full, Diff: cfg.Retention.Diff, Days: cfg.Retention.Days}
}

func printExpire(w io.Writer, res *repo.ExpireResult) {
	verb := "expired"
	if res.DryRun {
		verb = "would expire"
	}
	for _, b := range res.Backups {
		fmt.Fprintf(w, "%s backup %s (%s, %s stored): %s\n", verb, b.Label, b.Type, units.Bytes(b.StoredSize), b.Reason)
	}
	if len(res.Backups) == 0 {
		fmt.Fprintf(w, "no backup to expire in cluster %s\n", res.Cluster)
	}
	if res.WAL.Count == 0 {
		fmt.Fprintln(w, "no WAL to expire")
	} else {
		fmt.Fprintf(w, "%s WAL %s..%s: %d files, %s\n", verb, res.WAL.First, res.WAL.Last, res.WAL.Count, units.Bytes(res.WAL.Bytes))
	}
	for _, g := range res.Earlier {
		fmt.Fprintf(w, "%s WAL of generation %d (system identifier %d, before an upgrade) %s..%s: %d files, %s\n",
			verb, g.Generation, g.SystemID, g.WAL.First, g.WAL.Last, g.WAL.Count, units.Bytes(g.WAL.Bytes))
	}
	fmt.Fprintf(w, "kept %d backups\n", len(res.Kept))
}
