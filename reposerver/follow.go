package reposerver

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pgkeep/pgkeep/basebackup"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/walarchive"
)

// Reconnects of the WAL stream back off from streamRetryMin to
// streamRetryMax; a stream that ran for streamStable resets the backoff.
const (
	streamRetryMin = time.Second
	streamRetryMax = 30 * time.Second
	streamStable   = time.Minute
	// leaderRecheck is how often the leader is looked up even without a
	// watch event, in case one was missed.
	leaderRecheck = 30 * time.Second
	// A leader key on a server still in recovery is a promotion under
	// way (controllers take the key, then promote): its end changes no key
	// in etcd, so the server is asked again every promotionPoll, for at
	// most promotionWait, instead of with the growing backoff.
	promotionPoll = 500 * time.Millisecond
	promotionWait = time.Minute
)

// follow streams WAL from the cluster's leader until ctx ends: one
// receiver at a time, reconnected with backoff when it fails and at once
// when the leader key names another member.
func (s *Server) follow(ctx context.Context) {
	changes := s.watchLeader(ctx)
	retry := streamRetryMin
	var promoting promotion
	for ctx.Err() == nil {
		src, c, err := s.discoverLeader(ctx)
		if promoting.poll(err, s.log) {
			wait(ctx, promotionPoll, changes)
			continue
		}
		if err != nil {
			s.streamFailed(err)
			wait(ctx, retry, changes)
			retry = min(2*retry, streamRetryMax)
			continue
		}
		started := time.Now()
		err = s.stream(ctx, src, c, changes)
		if ctx.Err() != nil {
			return
		}
		s.metrics.reconnects.Inc()
		if err == nil {
			retry = streamRetryMin // the leader changed: reconnect at once
			continue
		}
		s.streamFailed(err)
		if time.Since(started) > streamStable {
			retry = streamRetryMin
		}
		wait(ctx, retry, changes)
		retry = min(2*retry, streamRetryMax)
	}
}

// promotion tracks a leader found in recovery, so that the follow loop
// asks again soon and says so once rather than at every poll.
type promotion struct {
	since time.Time // zero: the last lookup found no leader in recovery
}

// poll reports whether the lookup's err is a leader in recovery that is
// to be polled for at promotionPoll; it logs the first of a series.
func (p *promotion) poll(err error, log *slog.Logger) bool {
	if !errors.Is(err, basebackup.ErrLeaderInRecovery) {
		p.since = time.Time{}
		return false
	}
	if p.since.IsZero() {
		p.since = time.Now()
		log.Info("the leader is in recovery, a promotion is under way: waiting for it", "err", err, "poll", promotionPoll)
		return true
	}
	return time.Since(p.since) < promotionWait
}

// discoverLeader reads the cluster's registration, finds the leader to
// stream from and records it.
func (s *Server) discoverLeader(ctx context.Context) (basebackup.Source, *repo.ClusterInfo, error) {
	c, err := s.cluster(ctx)
	var src basebackup.Source
	if err == nil {
		src, err = basebackup.Discover(ctx, s.leaderLookup(c))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.leader.Error = err.Error()
		return src, nil, err
	}
	s.leader = leaderInfo{Member: src.Member, Server: src.String()}
	return src, c, nil
}

// leaderLookup is how the stream finds its server: the leader, never a
// standby, of generation c's system.
func (s *Server) leaderLookup(c *repo.ClusterInfo) basebackup.DiscoverOptions {
	o := s.discovery(c)
	o.Standby = false
	return o
}

// stream runs a receiver of generation c against src until it fails (its
// error), ctx ends (nil) or the leader moves to another server (nil).
func (s *Server) stream(ctx context.Context, src basebackup.Source, c *repo.ClusterInfo, changes <-chan struct{}) error {
	ro := s.o.Receiver
	ro.Conn, ro.Cluster = src.Conn, c
	r, err := walarchive.NewReceiver(ro)
	if err != nil {
		return err
	}
	s.receiver.Store(r)
	s.lag.reset()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	recheck := time.NewTicker(leaderRecheck)
	defer recheck.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-changes:
		case <-recheck.C:
		}
		if !s.leaderMoved(ctx, src, c) {
			continue
		}
		cancel() // stop cleanly before connecting to the new leader
		err := <-done
		if err != nil {
			s.log.Warn("WAL stream ended with an error on leader change", "err", err)
		}
		return nil
	}
}

// leaderMoved reports whether the leader key now names a reachable server
// of generation c's system other than src. While there is no leader (a
// failover under way) the stream stays where it is.
func (s *Server) leaderMoved(ctx context.Context, src basebackup.Source, c *repo.ClusterInfo) bool {
	if s.o.Discover.Direct != nil {
		return false
	}
	now, err := basebackup.Discover(ctx, s.leaderLookup(c))
	if err != nil {
		s.log.Info("leader lookup failed; streaming on from the current server", "server", src, "err", err)
		return false
	}
	if now.Member == src.Member && now.Conn == src.Conn {
		return false
	}
	s.log.Info("leader changed: following", "from", src, "to", now)
	return true
}

// streamFailed records a failed stream.
func (s *Server) streamFailed(err error) {
	s.log.Warn("WAL stream", "err", err)
	s.metrics.errors.WithLabelValues("stream").Inc()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leader.Error = err.Error()
}

// watchLeader signals changes of the leader key; nil without etcd.
func (s *Server) watchLeader(ctx context.Context) <-chan struct{} {
	if s.o.Etcd == nil || s.o.Discover.Direct != nil {
		return nil
	}
	key := s.o.Namespace + "/" + s.o.Cluster.Name + "/leader"
	out := make(chan struct{}, 1)
	go func() {
		for ctx.Err() == nil {
			for resp := range s.o.Etcd.Watch(ctx, key) {
				if resp.Err() != nil {
					break
				}
				select {
				case out <- struct{}{}:
				default:
				}
			}
			wait(ctx, time.Second, nil)
		}
	}()
	return out
}

// wait sleeps for d, until ctx ends or a signal on wake.
func wait(ctx context.Context, d time.Duration, wake <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	}
}
