package dcs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Outcomes a caller branches on.
var (
	// ErrConflict: a compare-and-swap lost, the key changed since it was
	// read (or exists where it must not). Nothing was written.
	ErrConflict = errors.New("changed concurrently")
	// ErrNotLeader: this member does not hold the leader key with its lease.
	ErrNotLeader = errors.New("not the leader")
	// ErrLeaseLost: the member's lease expired or was revoked; every key
	// attached to it is gone.
	ErrLeaseLost = errors.New("lease lost")
	// ErrNameInUse: another member (another conn_url) registered the name.
	ErrNameInUse = errors.New("member name in use")
)

// AnyRevision, passed as the expected revision of a write, writes whatever
// the key holds.
const AnyRevision int64 = -1

// Options configure a DCS.
type Options struct {
	// Client is a connected etcd client; the DCS does not close it.
	Client *clientv3.Client
	// Namespace is the namespace, default [DefaultNamespace].
	Namespace string
	// Cluster is the cluster's name (Patroni's scope).
	Cluster string
	// Name is this member's name.
	Name string
	// TTL is the lease's time to live.
	TTL time.Duration
	// Timeout bounds each etcd call (default 5 s), within the caller's
	// context.
	Timeout time.Duration
	// Logger, default slog.Default().
	Logger *slog.Logger
}

// DCS is one member's view of the cluster's keys in etcd. Its methods are
// safe for concurrent use.
type DCS struct {
	cli     *clientv3.Client
	keys    Keys
	name    string
	ttl     time.Duration
	timeout time.Duration
	log     *slog.Logger

	renew sync.Mutex // one KeepAlive at a time: never two grants

	mu    sync.Mutex
	lease clientv3.LeaseID // 0: none granted yet, or lost
}

// New returns a DCS for member o.Name of o.Cluster. It does not contact
// etcd.
func New(o Options) (*DCS, error) {
	switch {
	case o.Client == nil:
		return nil, errors.New("dcs: no etcd client")
	case o.Name == "":
		return nil, errors.New("dcs: no member name")
	case o.TTL <= 0:
		return nil, fmt.Errorf("dcs: ttl %s: must be positive", o.TTL)
	}
	keys, err := NewKeys(o.Namespace, o.Cluster)
	if err != nil {
		return nil, fmt.Errorf("dcs: %w", err)
	}
	d := &DCS{cli: o.Client, keys: keys, name: o.Name, ttl: o.TTL, timeout: o.Timeout, log: o.Logger}
	if d.timeout <= 0 {
		d.timeout = 5 * time.Second
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	return d, nil
}

// Keys are the cluster's keys.
func (d *DCS) Keys() Keys { return d.keys }

// Name is this member's name.
func (d *DCS) Name() string { return d.name }

// TTL is the lease's time to live.
func (d *DCS) TTL() time.Duration { return d.ttl }

// call derives the context of one etcd call.
func (d *DCS) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.timeout)
}

// Cluster reads every key of the cluster at one revision (a linearizable
// read).
func (d *DCS) Cluster(ctx context.Context) (Cluster, error) {
	cctx, cancel := d.call(ctx)
	defer cancel()
	resp, err := d.cli.Get(cctx, d.keys.Prefix(), clientv3.WithPrefix())
	if err != nil {
		return Cluster{}, fmt.Errorf("read %s from etcd: %w", d.keys.Prefix(), err)
	}
	return parseCluster(d.keys, resp.Header.Revision, resp.Kvs), nil
}
