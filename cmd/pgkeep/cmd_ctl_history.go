package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
)

func newCtlHistoryCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "history",
		Short: "The cluster's timeline switches (the history key)",
		Args:  exactArgs(0),
		RunE: ctlRun(g, func(cmd *cobra.Command, s *ctlSession, _ []string) error {
			c, err := s.ctl.Cluster(cmd.Context())
			if err != nil {
				return err
			}
			entries := []dcs.HistoryEntry{}
			if c.History != nil && c.History.Entries != nil {
				entries = c.History.Entries
			}
			if s.json() {
				return s.printJSON(entries)
			}
			tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TL\tLSN\tReason\tTimestamp\tNew Leader")
			for _, e := range entries {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Timeline, pg.LSN(e.LSN), e.Reason, e.Time, e.NewLeader)
			}
			return tw.Flush()
		}),
	}
}
