package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// restartWait bounds one member's restart.
const restartWait = 80 * time.Second

func newCtlRestartCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "restart [NAME]",
		Short: "Restart PostgreSQL on a member (default: every member, replicas first)",
		Long: `restart asks the member's agent to restart its PostgreSQL (fast shutdown) between
two runs of its HA loop: a primary restarts as primary and keeps the leader key.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.MaximumNArgs(1)(cmd, args); err != nil {
				return usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
			}
			return nil
		},
		RunE: ctlRun(g, func(cmd *cobra.Command, s *ctlSession, args []string) error {
			c, err := s.cluster(cmd.Context())
			if err != nil {
				return err
			}
			var names []string
			if len(args) == 1 {
				names = args
			} else {
				for _, m := range c.Members {
					if m.Name != c.LeaderName() {
						names = append(names, m.Name)
					}
				}
				if c.LeaderName() != "" {
					names = append(names, c.LeaderName())
				}
			}
			var errs []error
			for _, name := range names {
				r, err := s.ctl.Call(cmd.Context(), c, name, "POST", "/restart", map[string]any{}, restartWait)
				if err == nil {
					err = s.reply(r)
				}
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "pgkeep:", oneLine(err.Error()))
					errs = append(errs, err)
				}
			}
			if len(errs) > 0 {
				return fmt.Errorf("restart failed on %d of %d member(s)", len(errs), len(names))
			}
			return nil
		}),
	}
}

func newCtlReinitCommand(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "reinit NAME",
		Short: "Rebuild a replica from scratch (its agent re-clones it)",
		Args:  exactArgs(1),
		RunE: ctlRun(g, func(cmd *cobra.Command, s *ctlSession, args []string) error {
			c, err := s.cluster(cmd.Context())
			if err != nil {
				return err
			}
			if _, ok := c.Member(args[0]); !ok {
				return errors.New(args[0] + " is not a member of cluster " + s.cfg.Cluster)
			}
			body := map[string]any{}
			if force {
				body["force"] = true
			}
			r, err := s.ctl.Call(cmd.Context(), c, args[0], "POST", "/reinitialize", body, 30*time.Minute)
			if err != nil {
				return err
			}
			return s.reply(r)
		}),
	}
	cmd.Flags().BoolVar(&force, "force", false, "reinitialize even if the agent would rather not (a running replica)")
	return cmd
}
