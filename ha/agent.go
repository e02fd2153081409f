package ha

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/ha/decide"
)

// Agent is the failover agent of one member.
type Agent struct {
	o    Options
	dcs  *dcs.DCS
	pg   *postgres
	log  *slog.Logger
	http *http.Client
	wake chan struct{}
	boot bootRetry // failed bootstraps (the loop's own)
	repl replState // slots and synchronous replication; the loop's only

	// abandon makes Run return without its clean shutdown, as if the
	// process were killed: PostgreSQL keeps running, the keys stay until
	// the lease expires. Tests set it to kill a member hard.
	abandon atomic.Bool
	// tasks are operations the REST API asks of the loop (restart): run
	// between two turns, never beside a decision.
	tasks chan task

	// life serializes what changes the data directory: the loop's turns
	// and Reinitialize.
	life sync.Mutex

	mu          sync.Mutex
	lastRenewal time.Time  // when the last successful renewal was sent
	view        view       // the last turn's picture, for the REST API and the watchdog
	roleSetAt   time.Time  // when the agent last changed the role itself (setPrimary)
	stall       stallWatch // a replica's progress, to re-create one that cannot follow

	// The server's identity for GET /patroni, and when etcd last answered
	// a turn (identity.go).
	ident   pgIdentity
	identAt time.Time
	dcsSeen time.Time
	// lastRefusal is why this leader last refused a switchover (act.go).
	lastRefusal string
}

// view is what the agent saw and decided in its last turn.
type view struct {
	cluster  dcs.Cluster
	settings dcs.Settings
	pg       pgState
	decision decide.Decision
	// at is when the PostgreSQL state was read.
	at time.Time
}

// New checks the options and returns an agent; Run starts it.
func New(o Options) (*Agent, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	d, err := dcs.New(dcs.Options{Client: o.Etcd, Namespace: o.Namespace, Cluster: o.Cluster, Name: o.Name,
		TTL: o.TTL, Timeout: o.RetryTimeout, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	return &Agent{
		o: o, dcs: d, pg: newPostgres(o), log: o.Logger.With("member", o.Name),
		http:  &http.Client{Timeout: peerTimeout(o), Transport: &http.Transport{TLSClientConfig: o.ClientTLS}},
		wake:  make(chan struct{}, 1),
		tasks: make(chan task),
	}, nil
}

// Run serves the REST API, registers the member and runs the HA loop until
// ctx ends. Then, if its PostgreSQL is primary, it stops it (nobody else
// would stop it accepting writes after the key moves), and releases the
// leader key and the lease. A member name another running member uses is
// an error wrapping dcs.ErrNameInUse.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.checkSystem(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.o.APIListen)
	if err != nil {
		return fmt.Errorf("ha: REST API: %w", err)
	}
	if a.o.TLS != nil {
		ln = tls.NewListener(ln, a.o.TLS)
	}
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	if err := a.register(ctx); err != nil {
		return err
	}
	loopCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.keepLease(loopCtx) })
	wg.Go(func() { a.watchdog(loopCtx) })
	defer func() {
		cancel()
		wg.Wait()
		if !a.abandon.Load() {
			a.shutdown()
		}
	}()
	c, err := a.dcs.Cluster(ctx)
	if err != nil {
		return fmt.Errorf("ha: %w", err)
	}
	changes := a.dcs.Watch(loopCtx, c.Revision)
	for {
		a.life.Lock()
		wait := a.turn(loopCtx)
		a.life.Unlock()
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		case <-changes:
		case <-a.wake:
		case t := <-a.tasks:
			a.life.Lock()
			t.done <- t.run(loopCtx)
			a.life.Unlock()
		}
		timer.Stop()
	}
}

// register takes a lease and writes the member key for the first time.
func (a *Agent) register(ctx context.Context) error {
	r, err := a.dcs.KeepAlive(ctx)
	if err != nil {
		return fmt.Errorf("ha: %w", err)
	}
	a.renewed(r)
	st := a.pg.State(ctx)
	if err := a.dcs.Register(ctx, a.memberData(st, a.o.settings())); err != nil {
		_ = a.dcs.Revoke(context.WithoutCancel(ctx))
		return fmt.Errorf("ha: %w", err)
	}
	a.log.Info("registered", "cluster", a.o.Cluster, "conn_url", a.o.ConnURL, "api_url", a.o.APIURL)
	return nil
}

// shutdown stops a primary, then gives up the leader key and the lease.
func (a *Agent) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), ctlTimeout)
	defer cancel()
	defer a.pg.closeStateConn()
	if st := a.pg.State(ctx); st.Primary() {
		if err := a.pg.Stop(ctx, "fast"); err != nil {
			a.log.Error("stopping the primary on shutdown; keeping the leader key until its lease expires", "err", err)
			return
		}
	}
	if _, err := a.dcs.ReleaseLeader(ctx); err != nil {
		a.log.Warn("release the leader key on shutdown", "err", err)
	}
	if err := a.dcs.Revoke(ctx); err != nil {
		a.log.Warn("revoke the lease on shutdown", "err", err)
	}
}

// poke wakes the loop for a turn now.
func (a *Agent) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// peerTimeout bounds one question to another member's REST API.
func peerTimeout(o Options) time.Duration { return min(o.RetryTimeout, time.Second) }
