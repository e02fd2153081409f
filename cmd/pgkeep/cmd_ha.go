package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pgkeep/pgkeep/configs"
	"github.com/pgkeep/pgkeep/ha"
	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/internal/tlsfiles"
	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/restore"
)

func newHACommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "ha",
		Short: "The failover agent of one member (in place of Patroni)",
		Long: `ha runs beside one PostgreSQL server of the cluster. With the agents of the other
members it keeps one primary, elected through a lease in etcd (Patroni's key
layout under etcd.namespace/cluster): the primary renews the lease and stops
accepting writes on its own when it cannot; when the leader key is free, the most
advanced healthy replica takes it and is promoted; the others follow it. It serves
HAProxy's health checks (ha.listen): /primary, /replica[?lag=], /read-only,
/health, /leader answer 200 or 503; GET /patroni, /cluster, /history, /config tell
the member's and the cluster's state. The calls that change something (POST
/switchover, /failover, /restart, PATCH /config; what pgkeep ctl sends) need the
bearer token of ha.token-file, or a client certificate of ha.client-ca-file; with
neither configured they are accepted from loopback addresses only. ha.tls-cert-file
and ha.tls-key-file make the API speak HTTPS. SIGTERM stops the agent; a primary is
stopped with it.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadCluster()
			if err != nil {
				return err
			}
			daemonLogging(cfg)
			return runHA(cmd, g, cfg)
		},
	}
}

func runHA(cmd *cobra.Command, g *globals, cfg *configs.Config) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// The agent's heap is small and steady: collect it more often rather
	// than let it grow to twice its live size (the agent runs on every
	// database node; its footprint matters more than the GC's few cycles).
	debug.SetGCPercent(25)
	o, err := haOptions(cfg)
	if err != nil {
		return usageError{err}
	}
	if err := haRepository(ctx, g, cfg, &o); err != nil {
		return err
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: cfg.Etcd.Endpoints, DialTimeout: 5 * time.Second, Context: ctx, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Errorf("etcd %v: %w", cfg.Etcd.Endpoints, err)
	}
	defer client.Close()
	o.Etcd = client
	agent, err := ha.New(o)
	if err != nil {
		return usageError{err}
	}
	return agent.Run(ctx)
}

// haTLS builds the REST API's server TLS configuration (nil without
// ha.tls-cert-file) and the one the agent and ctl reach members with.
func haTLS(h configs.HA) (server, client *tls.Config, err error) {
	if h.TLSCertFile != "" {
		if server, err = tlsfiles.Server(h.TLSCertFile, h.TLSKeyFile, h.ClientCAFile); err != nil {
			return nil, nil, fmt.Errorf("ha.tls-cert-file: %w", err)
		}
	}
	if client, err = tlsfiles.Client(h.CAFile, "", ""); err != nil {
		return nil, nil, fmt.Errorf("ha.ca-file: %w", err)
	}
	return server, client, nil
}

// haOptions maps the configuration to the agent's options (Etcd is set by
// the caller).
func haOptions(cfg *configs.Config) (ha.Options, error) {
	h := cfg.HA
	switch {
	case len(cfg.Etcd.Endpoints) == 0:
		return ha.Options{}, errors.New("etcd.endpoints: pgkeep ha needs etcd")
	case cfg.PG.Data == "":
		return ha.Options{}, errors.New("pg.data: pgkeep ha needs the data directory")
	}
	serverTLS, clientTLS, err := haTLS(h)
	if err != nil {
		return ha.Options{}, err
	}
	name := h.Name
	if name == "" {
		if name, err = os.Hostname(); err != nil {
			return ha.Options{}, fmt.Errorf("ha.name: %w", err)
		}
	}
	pgAddr := h.PGConnectAddress
	if pgAddr == "" {
		if cfg.PG.Host == "" || strings.HasPrefix(cfg.PG.Host, "/") {
			return ha.Options{}, errors.New("ha.pg-connect-address: pg.host is a socket; say where other members reach PostgreSQL (host:port)")
		}
		pgAddr = net.JoinHostPort(cfg.PG.Host, strconv.Itoa(cfg.PG.Port))
	}
	apiAddr := h.ConnectAddress
	if apiAddr == "" {
		apiAddr = h.Listen
	}
	scheme := "http"
	if serverTLS != nil {
		scheme = "https"
	}
	target, err := restore.ParseTarget(restore.TargetSpec{Time: h.Bootstrap.TargetTime}, time.Local)
	if err != nil {
		return ha.Options{}, fmt.Errorf("ha.bootstrap.target-time: %w", err)
	}
	if target.Kind != restore.TargetNone && h.Bootstrap.Method != ha.BootstrapBackup {
		return ha.Options{}, errors.New("ha.bootstrap.target-time: only with ha.bootstrap.method backup")
	}
	tags := dcs.Tags{}
	if h.NoFailover {
		tags[dcs.TagNoFailover] = true
	}
	if h.FailoverPriority != 0 {
		tags[dcs.TagFailoverPriority] = h.FailoverPriority
	}
	return ha.Options{
		Name: name, Cluster: cfg.Cluster, Namespace: cfg.Etcd.Namespace,
		TTL: h.TTL, LoopWait: h.LoopWait, RetryTimeout: h.RetryTimeout,
		MaximumLagOnFailover: uint64(h.MaximumLagOnFailoverMB) << 20,
		SynchronousMode:      h.SynchronousMode, SynchronousModeStrict: h.SynchronousModeStrict, PermanentSlots: h.PermanentSlots,
		Tags:   tags,
		PGData: cfg.PG.Data, PGBin: cfg.PG.Bin, Parameters: cfg.PG.Parameters,
		ReplicaMethod: h.ReplicaMethod, StallTimeout: h.StallTimeout,
		Bootstrap: ha.Bootstrap{Method: h.Bootstrap.Method, Cluster: h.Bootstrap.Cluster, Set: h.Bootstrap.Set, Target: target},
		Conn:      pg.ConnOptions{Host: cfg.PG.Host, Port: cfg.PG.Port, User: cfg.PG.User, Database: cfg.PG.Database},
		ConnURL:   "postgres://" + pgAddr + "/postgres", ReplicationUser: cfg.PG.User,
		APIListen: h.Listen, APIURL: scheme + "://" + apiAddr + "/patroni",
		TLS: serverTLS, ClientTLS: clientTLS, Token: h.Token.Reveal(),
		Logger: slog.Default(),
	}, nil
}

// haRepository opens (initialising it if needed) the configured repository
// for the agent, with the archive hooks of the cluster and of the
// bootstrap's source cluster. Without a repository the agent runs without
// one: replicas are copied with pg_basebackup.
func haRepository(ctx context.Context, g *globals, cfg *configs.Config, o *ha.Options) error {
	if !cfg.Repo.Configured() {
		return nil
	}
	s, err := openStorage(ctx, cfg)
	if err != nil {
		return err
	}
	opts, err := repoOptions(cfg, s)
	if err != nil {
		return err
	}
	if o.Repo, err = repo.Init(ctx, opts); err != nil {
		return err
	}
	bin, args, err := hookCommand(g, cfg)
	if err != nil {
		return fmt.Errorf("archive hooks: %w", err)
	}
	o.RestoreCommand, o.ArchiveCommand = restore.RestoreCommand(bin, args...), restore.ArchiveCommand(bin, args...)
	src := *cfg
	if cfg.HA.Bootstrap.Cluster != "" {
		src.Cluster = cfg.HA.Bootstrap.Cluster
	}
	if bin, args, err = hookCommand(g, &src); err != nil {
		return fmt.Errorf("archive hooks: %w", err)
	}
	o.Bootstrap.RestoreCommand = restore.RestoreCommand(bin, args...)
	return nil
}
