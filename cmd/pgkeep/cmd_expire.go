package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pgkeep/pgkeep/internal/units"
	"github.com/pgkeep/pgkeep/repo"
)

type expireOptions struct {
	ret    repo.Retention
	dryRun bool
}

func newExpireCommand(g *globals) *cobra.Command {
	o := &expireOptions{}
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
what would go and changes nothing.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.ret.Full < 0 || o.ret.Diff < 0 || o.ret.Days < 0 {
				return usageError{errors.New("expire: retention counts must not be negative")}
			}
			if o.ret == (repo.Retention{}) {
				return usageError{errors.New("expire: nothing to do without a retention rule: give --retention-full, --retention-diff or --retention-days")}
			}
			ctx := cmd.Context()
			cfg, r, c, err := g.openClusterRepo(ctx)
			if err != nil {
				return err
			}
			lock, done, err := locker(cfg, r)
			if err != nil {
				return err
			}
			defer done()
			res, err := r.Expire(ctx, c, o.ret, repo.ExpireOptions{DryRun: o.dryRun, Locker: lock})
			if res != nil && err == nil {
				if cfg.Output == "json" {
					return writeJSON(cmd, res)
				}
				printExpire(cmd.OutOrStdout(), res)
			}
			return err
		},
	}
	cmd.Flags().IntVar(&o.ret.Full, "retention-full", 0, "keep the newest N full backups (and their diff/incr backups)")
	cmd.Flags().IntVar(&o.ret.Diff, "retention-diff", 0, "keep the newest N diff backups (and their incr backups)")
	cmd.Flags().IntVar(&o.ret.Days, "retention-days", 0, "keep every backup needed to restore to any time in the last D days")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "list what would be removed, change nothing")
	return cmd
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
	fmt.Fprintf(w, "kept %d backups\n", len(res.Kept))
}
