package basebackup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
)

// Source is the server a backup is taken from.
type Source struct {
	// Member is the member's name in etcd, or "" when the server was given
	// directly.
	Member string
	// Conn says how to connect to the server (host, port, user, database).
	Conn pg.ConnOptions
	// Info is the server's identity, checked against DiscoverOptions.SystemID.
	Info pg.ServerInfo
}

// DiscoverOptions says where to look for the backup source.
type DiscoverOptions struct {
	// Direct, when not nil, is the server to back up, given by the operator
	// (--pg-host/--pg-port): etcd is bypassed. Its empty User and Database
	// fall back to User and Database below.
	Direct *pg.ConnOptions
	// Endpoints are the etcd endpoints.
	Endpoints []string
	// Namespace is the etcd key prefix, "/service" when empty; a trailing
	// slash is ignored.
	Namespace string
	// Cluster is the cluster's name, Patroni's scope.
	Cluster string
	// Standby picks the healthy streaming replica that has replayed the most
	// WAL instead of the leader (--backup-standby).
	Standby bool
	// User and Database are used with the host and port of a member's
	// conn_url. When empty, those of the conn_url are used, if any.
	User, Database string
	// SystemID is the system identifier registered in the repository; 0 means
	// not to check it.
	SystemID uint64
	// Timeout bounds each etcd and PostgreSQL call; 5 s when zero.
	Timeout time.Duration
}

// defaultCallTimeout is DiscoverOptions.Timeout when none is set.
const defaultCallTimeout = 5 * time.Second

// Outcomes of Discover that callers branch on, besides
// repo.ErrClusterMismatch for a server of another cluster.
var (
	// ErrNoLeader: etcd holds no leader key for the cluster (yet).
	ErrNoLeader = errors.New("no leader key")
	// ErrNoStandby: no member is a healthy streaming replica.
	ErrNoStandby = errors.New("no usable standby")
	// ErrLeaderInRecovery: the leader key names a server still in
	// recovery, as it does while a failover controller promotes it.
	ErrLeaderInRecovery = errors.New("is in recovery")
)

// Discover finds the server to back up and checks its identity: the server
// given in o.Direct, else the holder of the cluster's leader key in etcd, or,
// with o.Standby, its most advanced streaming replica. It only reads: etcd,
// the servers and the repository are left as they were.
func Discover(ctx context.Context, o DiscoverOptions) (Source, error) {
	if o.Timeout <= 0 {
		o.Timeout = defaultCallTimeout
	}
	if o.Direct != nil {
		return discoverDirect(ctx, o)
	}
	if len(o.Endpoints) == 0 {
		return Source{}, errors.New("no etcd endpoints to find the leader with, and no PostgreSQL host given: set the etcd endpoints, or the PostgreSQL host to bypass etcd")
	}
	if o.Cluster == "" {
		return Source{}, errors.New("no cluster name (Patroni scope) to look up in etcd")
	}
	view, err := readDCS(ctx, o, newDCSKeys(o.Namespace, o.Cluster))
	if err != nil {
		return Source{}, err
	}
	if o.Standby {
		return pickStandby(ctx, o, view)
	}
	return leaderSource(ctx, o, view)
}

// discoverDirect checks the server the operator named.
func discoverDirect(ctx context.Context, o DiscoverOptions) (Source, error) {
	c := *o.Direct
	if c.User == "" {
		c.User = o.User
	}
	if c.Database == "" {
		c.Database = o.Database
	}
	if c.Timeout <= 0 {
		c.Timeout = o.Timeout
	}
	subject := "server " + address(c)
	var info pg.ServerInfo
	var err error
	if o.Standby {
		info, _, err = inspectStandby(ctx, c, o)
	} else {
		info, err = inspect(ctx, c, o.Timeout, nil)
	}
	if err != nil {
		return Source{}, fmt.Errorf("%s %w", subject, err)
	}
	if err := checkSystemID(subject, info.SystemID, o.SystemID); err != nil {
		return Source{}, err
	}
	return Source{Conn: c, Info: info}, nil
}

// leaderSource checks the member that holds the leader key.
func leaderSource(ctx context.Context, o DiscoverOptions, v dcsView) (Source, error) {
	if v.leader == "" {
		return Source{}, fmt.Errorf("%w at %s in etcd (is the cluster running, is the scope right?)", ErrNoLeader, v.keys.leader())
	}
	m, ok := v.member(v.leader)
	if !ok {
		return Source{}, fmt.Errorf("leader key %s names %q, but its member key %s is missing (the member's session expired, or a failover is under way?)",
			v.keys.leader(), v.leader, v.keys.member(v.leader))
	}
	if m.err != nil {
		return Source{}, fmt.Errorf("leader %s: member key %s: %w", m.Name, v.keys.member(m.Name), m.err)
	}
	c, err := o.memberConn(m)
	if err != nil {
		return Source{}, fmt.Errorf("leader %s: member key %s: %w", m.Name, v.keys.member(m.Name), err)
	}
	subject := fmt.Sprintf("leader %s (%s)", m.Name, address(c))
	info, err := inspect(ctx, c, o.Timeout, nil)
	if err != nil {
		return Source{}, fmt.Errorf("%s %w", subject, err)
	}
	// The leader of a Patroni standby cluster replicates from another
	// cluster: recovery is its normal state.
	if info.InRecovery && m.Role != roleStandbyLeader {
		return Source{}, fmt.Errorf("%s %w: the leader key is stale or a failover is under way; try again once the cluster has a primary", subject, ErrLeaderInRecovery)
	}
	if err := checkSystemID(subject, info.SystemID, o.SystemID); err != nil {
		return Source{}, err
	}
	return Source{Member: m.Name, Conn: c, Info: info}, nil
}

// checkSystemID refuses a server of another cluster than the repository's.
// want 0 accepts any.
func checkSystemID(subject string, got, want uint64) error {
	if want == 0 || got == want {
		return nil
	}
	return fmt.Errorf("%s has system identifier %d, but the repository's cluster has %d: it is another cluster, or this one after pg_upgrade (register it with `pgkeep create --upgrade`); nothing was written: %w",
		subject, got, want, repo.ErrClusterMismatch)
}

// inspect connects to the server, asks for its identity, then calls more
// (when not nil) on the same connection, all within timeout. Its errors read
// well after the server's name: "unreachable: ...".
func inspect(ctx context.Context, c pg.ConnOptions, timeout time.Duration, more func(context.Context, *pgx.Conn) error) (pg.ServerInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pg.Connect(ctx, c)
	if err != nil {
		return pg.ServerInfo{}, fmt.Errorf("unreachable: %w", err)
	}
	defer conn.Close(ctx)
	info, err := pg.QueryServerInfo(ctx, conn)
	if err == nil && more != nil {
		err = more(ctx, conn)
	}
	if err != nil {
		return pg.ServerInfo{}, fmt.Errorf("failed to answer: %w", err)
	}
	return info, nil
}

// address names where c points, for messages: "host:port", or libpq's
// defaults (PGHOST, PGPORT, the local socket) where c leaves them empty.
func address(c pg.ConnOptions) string {
	host, port := c.Host, "default port"
	if host == "" {
		host = "default host"
	}
	if c.Port != 0 {
		port = strconv.Itoa(c.Port)
	}
	return net.JoinHostPort(host, port)
}
