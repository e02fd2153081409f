package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgkeep/pgkeep/ha"
)

func newCtlShowConfigCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show-config",
		Short: "The cluster's dynamic configuration (the config key)",
		Args:  exactArgs(0),
		RunE: ctlRun(g, func(cmd *cobra.Command, s *ctlSession, _ []string) error {
			c, err := s.ctl.Cluster(cmd.Context())
			if err != nil {
				return err
			}
			data := map[string]any{}
			if c.Config != nil {
				data = c.Config.Data
			}
			return s.printJSON(data)
		}),
	}
}

func newCtlEditConfigCommand(g *globals) *cobra.Command {
	var sets []string
	cmd := &cobra.Command{
		Use:   "edit-config --set KEY=VALUE...",
		Short: "Change the cluster's dynamic configuration (loop_wait, maximum_lag_on_failover, pause...)",
		Long: `edit-config merges KEY=VALUE settings into the config key through a member's REST API
(PATCH /config, compare-and-swap). KEY may be dotted (postgresql.parameters.work_mem);
VALUE is read as JSON when it is (10, true, null removes the key), else as a string.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			patch, err := parseSets(sets)
			if err != nil {
				return usageError{err}
			}
			s, err := openCtl(cmd, g)
			if err != nil {
				return err
			}
			defer s.close()
			c, err := s.cluster(cmd.Context())
			if err != nil {
				return err
			}
			r, err := s.ctl.CallFirst(cmd.Context(), c, ha.LeaderFirst(c), "PATCH", "/config", patch, 0)
			if err != nil {
				return err
			}
			if !r.OK() {
				return refused{r}
			}
			return s.printJSON(r.Body)
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "KEY=VALUE to set (repeatable)")
	return cmd
}

// parseSets turns KEY=VALUE settings into a JSON merge patch.
func parseSets(sets []string) (map[string]any, error) {
	if len(sets) == 0 {
		return nil, fmt.Errorf("ctl edit-config: give at least one --set KEY=VALUE")
	}
	patch := map[string]any{}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--set %q: want KEY=VALUE", kv)
		}
		var val any
		if err := json.Unmarshal([]byte(v), &val); err != nil {
			val = v
		}
		parts := strings.Split(k, ".")
		m := patch
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = val
	}
	return patch, nil
}
