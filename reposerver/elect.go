package reposerver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"
)

// ElectionKey is the etcd prefix under which a cluster's servers campaign,
// beside Patroni's keys.
func ElectionKey(namespace, cluster string) string {
	return namespace + "/" + cluster + "/pgkeep-server"
}

// elect runs work while this server is the active one, until ctx ends.
// Without etcd the server is always active. With etcd it campaigns on a
// lease of LeaseTTL; work's context ends as soon as the lease is lost
// (renewals failing for a TTL), and a clean stop revokes the lease after
// work returned so that a standby takes over at once.
func (s *Server) elect(ctx context.Context, work func(context.Context)) error {
	if s.o.Etcd == nil {
		s.setHolder(s.o.Name)
		work(ctx)
		return ctx.Err()
	}
	for ctx.Err() == nil {
		err := s.campaign(ctx, work)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("election", "err", err)
			s.metrics.errors.WithLabelValues("election").Inc()
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return ctx.Err()
}

// campaign waits to become active, runs work while active, and gives the
// lease up when work returns.
func (s *Server) campaign(ctx context.Context, work func(context.Context)) error {
	ttl := int(s.o.LeaseTTL.Round(time.Second) / time.Second)
	sess, err := concurrency.NewSession(s.o.Etcd, concurrency.WithTTL(ttl), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("etcd session: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = s.o.Etcd.Revoke(closeCtx, sess.Lease())
		sess.Orphan()
	}()
	// Everything below ends when the lease is lost.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
			cancel()
		case <-lctx.Done():
		}
	}()
	el := concurrency.NewElection(sess, ElectionKey(s.o.Namespace, s.o.Cluster.Name))
	go s.observe(lctx, el)
	s.log.Info("waiting to become the active server", "key", ElectionKey(s.o.Namespace, s.o.Cluster.Name), "ttl", s.o.LeaseTTL)
	if err := el.Campaign(lctx, s.o.Name); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if lctx.Err() != nil {
			return errors.New("election lease lost while waiting")
		}
		return fmt.Errorf("campaign: %w", err)
	}
	s.setHolder(s.o.Name)
	work(lctx)
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("election lease lost: stopped streaming and scheduling")
}

// observe keeps the name of the active server for /status.
func (s *Server) observe(ctx context.Context, el *concurrency.Election) {
	for resp := range el.Observe(ctx) {
		if len(resp.Kvs) > 0 {
			s.setHolder(string(resp.Kvs[0].Value))
		}
	}
}

func (s *Server) setHolder(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holder = name
}
