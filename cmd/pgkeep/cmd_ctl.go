package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pgkeep/pgkeep/configs"
	"github.com/pgkeep/pgkeep/ha"
	"github.com/pgkeep/pgkeep/ha/dcs"
)

func newCtlCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ctl",
		Short: "Operate a cluster of pgkeep ha members (like patronictl)",
		Long: `ctl reads the cluster from etcd (etcd.endpoints, etcd.namespace, cluster) and acts
through the members' REST APIs (their api_url), sending ha.token as a bearer token.
Without ha.token, the members accept calls that change something from loopback
only. Refusals print why and exit 3; usage errors exit 2.`,
	}
	cmd.AddCommand(newCtlListCommand(g), newCtlSwitchoverCommand(g), newCtlFailoverCommand(g),
		newCtlRestartCommand(g), newCtlReinitCommand(g), newCtlPauseCommand(g, true), newCtlPauseCommand(g, false),
		newCtlHistoryCommand(g), newCtlShowConfigCommand(g), newCtlEditConfigCommand(g))
	return cmd
}

// ctlSession is what a ctl subcommand works with.
type ctlSession struct {
	cfg  *configs.Config
	ctl  *ha.Ctl
	etcd *clientv3.Client
	out  io.Writer
}

// openCtl loads the configuration and connects to etcd.
func openCtl(cmd *cobra.Command, g *globals) (*ctlSession, error) {
	cfg, err := g.loadCluster()
	if err != nil {
		return nil, err
	}
	if len(cfg.Etcd.Endpoints) == 0 {
		return nil, usageError{errors.New("etcd.endpoints: pgkeep ctl needs etcd")}
	}
	_, clientTLS, err := haTLS(cfg.HA)
	if err != nil {
		return nil, usageError{err}
	}
	etcd, err := clientv3.New(clientv3.Config{Endpoints: cfg.Etcd.Endpoints, DialTimeout: 5 * time.Second,
		Context: cmd.Context(), Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd %v: %w", cfg.Etcd.Endpoints, err)
	}
	ctl, err := ha.NewCtl(ha.CtlOptions{Etcd: etcd, Namespace: cfg.Etcd.Namespace, Cluster: cfg.Cluster,
		Token: cfg.HA.Token.Reveal(), TLS: clientTLS, Defaults: dcs.Settings{
			TTL: cfg.HA.TTL, LoopWait: cfg.HA.LoopWait, RetryTimeout: cfg.HA.RetryTimeout,
			MaximumLagOnFailover: uint64(cfg.HA.MaximumLagOnFailoverMB) << 20, SynchronousMode: cfg.HA.SynchronousMode}})
	if err != nil {
		etcd.Close()
		return nil, usageError{err}
	}
	return &ctlSession{cfg: cfg, ctl: ctl, etcd: etcd, out: cmd.OutOrStdout()}, nil
}

func (s *ctlSession) close() { s.etcd.Close() }

// ctlRun is the RunE of a ctl command: fn runs with a session, closed
// after it.
func ctlRun(g *globals, fn func(cmd *cobra.Command, s *ctlSession, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := openCtl(cmd, g)
		if err != nil {
			return err
		}
		defer s.close()
		return fn(cmd, s, args)
	}
}

// json reports whether the output is JSON (--output json).
func (s *ctlSession) json() bool { return s.cfg.Output == "json" }

// print writes v as indented JSON.
func (s *ctlSession) printJSON(v any) error {
	enc := json.NewEncoder(s.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// refused is a member's refusal: printed as the error, exit 3.
type refused struct{ r ha.Reply }

func (e refused) Error() string {
	return fmt.Sprintf("%s refused (HTTP %d): %s", e.r.Member, e.r.Status, e.r.Message)
}

// reply prints a member's answer, or returns it as the error when it is a
// refusal.
func (s *ctlSession) reply(r ha.Reply) error {
	if !r.OK() {
		return refused{r}
	}
	if s.json() {
		return s.printJSON(r.Body)
	}
	_, err := fmt.Fprintf(s.out, "%s: %s\n", r.Member, r.Message)
	return err
}

// cluster reads the cluster's keys.
func (s *ctlSession) cluster(ctx context.Context) (dcs.Cluster, error) {
	c, err := s.ctl.Cluster(ctx)
	if err != nil {
		return c, err
	}
	if len(c.Members) == 0 {
		return c, fmt.Errorf("cluster %s has no members in etcd under %s", s.cfg.Cluster, s.cfg.Etcd.Namespace)
	}
	return c, nil
}
