package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pgkeep/pgkeep/basebackup"
	"github.com/pgkeep/pgkeep/configs"
	"github.com/pgkeep/pgkeep/internal/cron"
	"github.com/pgkeep/pgkeep/internal/etcdlock"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/reposerver"
	"github.com/pgkeep/pgkeep/walarchive"
)

func newServerCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "server",
		Short: "The repository daemon: WAL streaming, scheduled backups, repository API, metrics",
		Long: `server runs on the repository host. Of the servers of a cluster, the one holding
the etcd election (server.lease-ttl) is active: it follows the leader key, streams
the leader's WAL into the repository through a physical replication slot, and runs
the scheduled backups (server.schedule.*; expire with retention.* after each) and
verify. The others stand by and take over when it dies. Every server serves
GET /status, GET /metrics and, with a token or client CA configured, the repository
API for database nodes using --repo-type server. SIGTERM stops it cleanly.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadCluster()
			if err != nil {
				return err
			}
			daemonLogging(cfg)
			return runServer(cmd, cfg)
		},
	}
}

func runServer(cmd *cobra.Command, cfg *configs.Config) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if cfg.Repo.Type == configs.RepoServer {
		return usageError{fmt.Errorf("repo.type server: the server needs the repository itself (posix or azure)")}
	}
	schedules, err := serverSchedules(cfg)
	if err != nil {
		return err
	}
	r, c, err := openCluster(ctx, cfg)
	if err != nil {
		return err
	}
	name := cfg.Server.Name
	if name == "" {
		if name, err = os.Hostname(); err != nil {
			return fmt.Errorf("server name: %w", err)
		}
	}
	if err := os.MkdirAll(cfg.Server.SpoolPath, 0o700); err != nil {
		return fmt.Errorf("server.spool-path: %w", err)
	}
	var etcd *clientv3.Client
	var lock repo.Locker = r.ObjectLocker()
	if len(cfg.Etcd.Endpoints) > 0 {
		etcd, err = clientv3.New(clientv3.Config{Endpoints: cfg.Etcd.Endpoints, DialTimeout: 5 * time.Second})
		if err != nil {
			return fmt.Errorf("etcd %v: %w", cfg.Etcd.Endpoints, err)
		}
		defer etcd.Close()
		lock = &etcdlock.Locker{Client: etcd, Namespace: cfg.Etcd.Namespace}
	}
	api, tlsConfig, err := repositoryAPI(cfg, r)
	if err != nil {
		return err
	}
	srv, err := reposerver.New(reposerver.Options{
		Repo: r, Cluster: c, Name: name,
		Etcd: etcd, Namespace: cfg.Etcd.Namespace, LeaseTTL: cfg.Server.LeaseTTL,
		Discover: discoverOptions(cfg, c),
		Backup: basebackup.Options{
			Workers: cfg.Backup.Workers, ConfigFiles: cfg.Backup.ConfigFiles, WALTimeout: cfg.Archive.Timeout,
		},
		Stream: cfg.Server.Stream,
		Receiver: walarchive.ReceiverOptions{
			Repo: r, Cluster: c, Slot: cfg.Server.Slot, SpoolDir: cfg.Server.SpoolPath,
			PartialInterval: cfg.Server.PartialInterval, ApplicationName: cfg.Server.ApplicationName,
			Synchronous: cfg.Server.Synchronous, Strict: cfg.Server.SynchronousStrict, Log: slog.Default(),
		},
		Schedules: schedules,
		Retention: retention(cfg),
		Locker:    lock,
		Listen:    cfg.Server.Listen,
		TLS:       tlsConfig,
		API:       api,
		Log:       slog.Default(),
	})
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// serverSchedules parses the configured schedules (already validated).
func serverSchedules(cfg *configs.Config) (reposerver.Schedules, error) {
	var out reposerver.Schedules
	for _, s := range []struct {
		key, expr string
		dst       **cron.Schedule
	}{
		{"server.schedule.full", cfg.Server.Schedule.Full, &out.Full},
		{"server.schedule.diff", cfg.Server.Schedule.Diff, &out.Diff},
		{"server.schedule.incr", cfg.Server.Schedule.Incr, &out.Incr},
		{"server.schedule.verify", cfg.Server.Schedule.Verify, &out.Verify},
	} {
		if s.expr == "" {
			continue
		}
		sch, err := cron.Parse(s.expr)
		if err != nil {
			return out, usageError{fmt.Errorf("%s: %w", s.key, err)}
		}
		*s.dst = sch
	}
	return out, nil
}
