package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// requestWait bounds a switchover or failover call: the member waits up to
// a minute for the new leader.
const requestWait = 75 * time.Second

func newCtlSwitchoverCommand(g *globals) *cobra.Command {
	var to, at string
	var force bool
	cmd := &cobra.Command{
		Use:   "switchover",
		Short: "Planned hand-over of the leader to another member, without losing a commit",
		Long: `switchover asks the leader to hand over to --to NAME (default: the best other
member): the leader checkpoints and shuts down cleanly, the target receives all its
WAL and takes the leader key, the others follow. It is refused, and nothing changes,
when the target is unknown, the leader, tagged nofailover, not streaming, or lags
beyond maximum_lag_on_failover.`,
		Args: exactArgs(0),
		RunE: ctlRun(g, func(cmd *cobra.Command, s *ctlSession, _ []string) error {
			c, err := s.cluster(cmd.Context())
			if err != nil {
				return err
			}
			leader := c.LeaderName()
			if leader == "" {
				return errors.New("the cluster has no leader: a switchover needs one; use pgkeep ctl failover --to NAME")
			}
			body := map[string]any{"leader": leader}
			if to != "" {
				body["candidate"] = to
			}
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return usageError{fmt.Errorf("--scheduled %q: not RFC 3339", at)}
				}
				body["scheduled_at"] = t.Format(time.RFC3339)
			}
			if !force && !confirm(cmd, fmt.Sprintf("Switch over from %s to %s?", leader, orAny(to))) {
				return errors.New("aborted")
			}
			r, err := s.ctl.CallFirst(cmd.Context(), c, []string{leader}, "POST", "/switchover", body, requestWait)
			if err != nil {
				return err
			}
			return s.reply(r)
		}),
	}
	cmd.Flags().StringVar(&to, "to", "", "the member to hand over to (default: the best other member)")
	cmd.Flags().StringVar(&at, "scheduled", "", "carry it out at this time (RFC 3339) instead of now")
	cmd.Flags().BoolVar(&force, "force", false, "do not ask for confirmation")
	return cmd
}

// confirm asks a yes/no question on a terminal; without one (scripts), the
// answer is yes.
func confirm(cmd *cobra.Command, q string) bool {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return true
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s [y/N] ", q)
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	return strings.EqualFold(strings.TrimSpace(line), "y") || strings.EqualFold(strings.TrimSpace(line), "yes")
}

func orAny(s string) string {
	if s == "" {
		return "the best other member"
	}
	return s
}
