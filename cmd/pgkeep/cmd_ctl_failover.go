package main

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgkeep/pgkeep/ha"
	"github.com/pgkeep/pgkeep/ha/decide"
)

func newCtlFailoverCommand(g *globals) *cobra.Command {
	var to string
	var dryRun, force bool
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "Make a member the leader, also when there is no healthy leader; --dry-run explains the election",
		Long: `failover --to NAME makes NAME the leader: with a running leader it is handed over as in a
switchover; without one, NAME takes the free leader key if it is eligible. --dry-run
asks every member for its state and prints who would win an election if the leader
left now, and why each other member is excluded; it changes nothing.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !dryRun && to == "" {
				return usageError{errors.New("ctl failover: --to NAME is needed (or --dry-run)")}
			}
			s, err := openCtl(cmd, g)
			if err != nil {
				return err
			}
			defer s.close()
			if dryRun {
				return dryRunFailover(cmd, s, to)
			}
			c, err := s.cluster(cmd.Context())
			if err != nil {
				return err
			}
			if !force && !confirm(cmd, fmt.Sprintf("Fail over to %s?", to)) {
				return errors.New("aborted")
			}
			r, err := s.ctl.CallFirst(cmd.Context(), c, ha.LeaderFirst(c, to), "POST", "/failover", map[string]any{"candidate": to}, requestWait)
			if err != nil {
				return err
			}
			return s.reply(r)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the member to make the leader")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print who would win an election now, and why the others would not; change nothing")
	cmd.Flags().BoolVar(&force, "force", false, "do not ask for confirmation")
	return cmd
}

// dryRunFailover prints the election a failover would hold.
func dryRunFailover(cmd *cobra.Command, s *ctlSession, to string) error {
	e, refusal, err := s.ctl.DryRun(cmd.Context(), to)
	if err != nil {
		return err
	}
	if s.json() {
		if err := s.printJSON(map[string]any{"election": e, "refused": refusal}); err != nil {
			return err
		}
	} else {
		printElection(s, e)
	}
	if refusal != "" {
		return fmt.Errorf("a failover to %s would be refused: %s", to, refusal)
	}
	return nil
}

// printElection prints the winner and every candidate's exclusion.
func printElection(s *ctlSession, e *decide.Election) {
	if e.Winner != "" {
		fmt.Fprintf(s.out, "Winner: %s\n", e.Winner)
	} else {
		fmt.Fprintln(s.out, "Winner: none")
	}
	fmt.Fprintf(s.out, "Why: %s\n", e.Reason)
	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Member\tTL\tLSN\tPriority\tOutcome")
	for _, c := range e.Candidates {
		outcome := "wins"
		if c.Excluded != "" {
			outcome = "excluded: " + c.Excluded
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", c.Name, tl(c.Timeline), c.LSN, c.Priority, outcome)
	}
	tw.Flush()
}
