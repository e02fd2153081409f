package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgkeep/pgkeep/ha"
	"github.com/pgkeep/pgkeep/pg"
)

func newCtlListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "The members: role, state, timeline, WAL positions and lag",
		Args:  exactArgs(0),
		RunE: ctlRun(g, func(cmd *cobra.Command, s *ctlSession, _ []string) error {
			info, err := s.ctl.Info(cmd.Context())
			if err != nil {
				return err
			}
			if s.json() {
				return s.printJSON(info)
			}
			printList(s, info)
			return nil
		}),
	}
}

// printList prints the members table, as patronictl list does.
func printList(s *ctlSession, info ha.ClusterInfo) {
	fmt.Fprintf(s.out, "Cluster: %s  Leader: %s\n", info.Scope, orDash(info.Leader))
	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Member\tHost\tRole\tState\tTL\tReceive LSN\tReplay LSN\tLag in MB")
	for _, m := range info.Members {
		host := m.Host
		if m.Port != 0 {
			host = fmt.Sprintf("%s:%d", m.Host, m.Port)
		}
		lag := "unknown"
		if m.Lag != nil {
			lag = fmt.Sprintf("%.1f", float64(*m.Lag)/(1<<20))
		}
		if m.Role == "leader" {
			lag = ""
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, host, m.Role, m.State, tl(m.Timeline),
			lsn(m.ReceiveLSN), lsn(m.ReplayLSN), lag)
	}
	tw.Flush()
	if info.Pause {
		fmt.Fprintln(s.out, "Maintenance mode: on")
	}
	if p := info.ScheduledSwitchover; p != nil {
		fmt.Fprintf(s.out, "Pending switchover: from %s to %s%s\n", orDash(p.From), orDash(p.To), strings.TrimSuffix(" at "+p.At, " at "))
	}
}

func lsn(v uint64) string {
	if v == 0 {
		return ""
	}
	return pg.LSN(v).String()
}

func tl(v uint32) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprint(v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
