package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgkeep/pgkeep/ha"
)

// pauseWait bounds the wait for every member to report the new mode.
const pauseWait = 15 * time.Second

func newCtlPauseCommand(g *globals, pause bool) *cobra.Command {
	use, short := "pause", "Maintenance mode: the agents take no automatic action (no failover, no restart)"
	if !pause {
		use, short = "resume", "Leave maintenance mode: the agents act again"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(0),
		RunE: ctlRun(g, func(cmd *cobra.Command, s *ctlSession, _ []string) error {
			c, err := s.cluster(cmd.Context())
			if err != nil {
				return err
			}
			r, err := s.ctl.CallFirst(cmd.Context(), c, ha.LeaderFirst(c), "PATCH", "/config", map[string]any{"pause": pause}, 0)
			if err != nil {
				return err
			}
			if !r.OK() {
				return refused{r}
			}
			// Wait until every running member's key shows the mode.
			deadline := time.Now().Add(pauseWait)
			for {
				c, err := s.ctl.Cluster(cmd.Context())
				done := err == nil
				for _, m := range c.Members {
					if m.Data.Pause != pause {
						done = false
					}
				}
				if done {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("the config says pause: %v, but not every member reports it after %s", pause, pauseWait)
				}
				time.Sleep(100 * time.Millisecond)
			}
			state := "paused"
			if !pause {
				state = "resumed"
			}
			_, err = fmt.Fprintf(s.out, "Success: cluster management is %s\n", state)
			return err
		}),
	}
}
