package reposerver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pgkeep/pgkeep/basebackup"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/walarchive"
)

// Options configure a Server.
type Options struct {
	Repo    *repo.Repo
	Cluster *repo.ClusterInfo
	// Name identifies this server in the election and in /status.
	Name string
	// Etcd, when not nil, holds the leader key and the servers' election;
	// Namespace is its key prefix ("/service").
	Etcd      *clientv3.Client
	Namespace string
	// LeaseTTL is the election lease's TTL: a standby takes over within it.
	LeaseTTL time.Duration

	// Discover finds the backup source and, with Standby false, the leader
	// that WAL is streamed from.
	Discover basebackup.DiscoverOptions
	// Backup is the template of every scheduled backup: Type and Source are
	// set per run.
	Backup basebackup.Options
	// Stream turns the WAL receiver on; Receiver is its template (Conn is
	// set to the leader's on every connection).
	Stream   bool
	Receiver walarchive.ReceiverOptions

	// Schedules of the backup types and verify; nil: never.
	Schedules Schedules
	// Retention is applied after each scheduled backup when it has a rule.
	Retention repo.Retention
	// Locker is the cluster lock for backups and expire.
	Locker repo.Locker
	// StateDir holds the server's small local state (last verify).
	StateDir string

	// Listen is the HTTP address ("" for none); TLS, when set, makes it HTTPS.
	// API handles /v1/ (the repository API) when not nil.
	Listen string
	TLS    *tls.Config
	API    http.Handler

	Log *slog.Logger
}

// Server is pgkeep server.
type Server struct {
	o       Options
	log     *slog.Logger
	metrics *metrics

	active   atomic.Bool
	receiver atomic.Pointer[walarchive.Receiver]
	lag      lagTracker

	mu        sync.Mutex
	leader    leaderInfo
	jobs      map[string]*jobState
	window    []repo.TimelineWindow
	manifests map[string]*repo.Manifest // by label
	lastByTy  map[string]*repo.Manifest // the newest of each type
	holder    string                    // the active server's name, as the election says
}

// leaderInfo is the server the WAL stream follows.
type leaderInfo struct {
	Member string `json:"member,omitempty"`
	Server string `json:"server,omitempty"`
	Error  string `json:"error,omitempty"`
}

// New checks o and builds a Server.
func New(o Options) (*Server, error) {
	switch {
	case o.Repo == nil || o.Cluster == nil:
		return nil, errors.New("server: repository and cluster are required")
	case o.Name == "":
		return nil, errors.New("server: a name is required")
	case o.Etcd != nil && o.LeaseTTL < 2*time.Second:
		return nil, fmt.Errorf("server: lease TTL %s is below 2s", o.LeaseTTL)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		o:        o,
		log:      log.With("cluster", o.Cluster.Name, "server", o.Name),
		metrics:  newMetrics(),
		jobs:     map[string]*jobState{},
		lastByTy: map[string]*repo.Manifest{},
	}
	return s, nil
}

// Run serves until ctx ends, then stops cleanly: the stream's position is
// durable and the spool consistent when it returns.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	httpDone := make(chan error, 1)
	if s.o.Listen != "" {
		srv, err := s.listen()
		if err != nil {
			return err
		}
		go func() { httpDone <- srv.serve() }()
		defer srv.shutdown()
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.sample(ctx)
	}()
	s.refresh(ctx)
	errc := make(chan error, 1)
	go func() { errc <- s.elect(ctx, s.runActive) }()
	var err error
	select {
	case err = <-errc:
	case err = <-httpDone:
		err = fmt.Errorf("http: %w", err)
		cancel()
		<-errc
	}
	cancel()
	wg.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = nil
	}
	s.log.Info("server stopped")
	return err
}

// runActive does the active server's work until ctx ends: streaming and
// schedules. It returns only once both stopped.
func (s *Server) runActive(ctx context.Context) {
	s.active.Store(true)
	s.metrics.active.Set(1)
	defer func() {
		s.active.Store(false)
		s.metrics.active.Set(0)
	}()
	s.log.Info("active: streaming and scheduling")
	var wg sync.WaitGroup
	if s.o.Stream {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.follow(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.schedule(ctx)
	}()
	<-ctx.Done() // active until stopped or the lease is lost, with or without work
	wg.Wait()
	s.log.Info("no longer active")
}

// cluster reads the cluster's registration afresh: after `pgkeep create
// --upgrade` (a pg_upgrade of the cluster) the stream, backups, expire and
// verify go on with the new generation without a restart of the server.
func (s *Server) cluster(ctx context.Context) (*repo.ClusterInfo, error) {
	c, err := s.o.Repo.Cluster(ctx, s.o.Cluster.Name)
	if err != nil {
		return nil, fmt.Errorf("read the registration of cluster %s: %w", s.o.Cluster.Name, err)
	}
	return c, nil
}

// discovery is the configured lookup of a source (the leader, or a standby
// with backup-standby), checked against generation c's system: the
// registration read when the stream or job began, not at the server's
// start, so that it follows `create --upgrade`.
func (s *Server) discovery(c *repo.ClusterInfo) basebackup.DiscoverOptions {
	o := s.o.Discover
	o.SystemID = c.SystemID
	return o
}
