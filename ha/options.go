package ha

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
)

// Default timings (those of the configs package's ha: section). The config
// key's ttl, loop_wait, retry_timeout and maximum_lag_on_failover override
// them cluster-wide. The safety margin defaults to min(1 s, ttl/4).
const (
	DefaultTTL                  = 3 * time.Second
	DefaultLoopWait             = time.Second
	DefaultRetryTimeout         = 2 * time.Second
	DefaultSafetyMargin         = time.Second
	DefaultMaximumLagOnFailover = 1 << 20
)

// Options configure an Agent. (There is no ha: section in the config file
// yet; cmd builds these from flags.)
type Options struct {
	// Name is this member's name, unique in the cluster.
	Name string
	// Cluster is the cluster's name (Patroni's scope).
	Cluster string
	// Namespace is the etcd namespace, default /service.
	Namespace string
	// Etcd is a connected client; the agent does not close it.
	Etcd *clientv3.Client

	// TTL, LoopWait, RetryTimeout, MaximumLagOnFailover: defaults for what
	// the cluster's config key does not set. SafetyMargin is local: how
	// long before the TTL ends a primary that could not renew fences
	// itself.
	TTL, LoopWait, RetryTimeout, SafetyMargin time.Duration
	MaximumLagOnFailover                      uint64
	// SynchronousMode and SynchronousModeStrict: defaults for the config
	// key's synchronous_mode and synchronous_mode_strict.
	SynchronousMode, SynchronousModeStrict bool

	// Tags are published in the member key (nofailover, failover_priority...).
	Tags dcs.Tags

	// PGData is the data directory; PGBin the directory of pg_ctl,
	// pg_controldata and pg_rewind; PGLogFile where pg_ctl start logs
	// (default PGData/pg_ctl.log).
	PGData, PGBin, PGLogFile string
	// Conn reaches the local server as a superuser.
	Conn pg.ConnOptions
	// ConnURL is how others reach this server, postgres://host:port/postgres.
	ConnURL string
	// ReplicationUser is the user replicas connect as (default postgres).
	ReplicationUser string

	// APIListen is the REST API's listen address, e.g. 127.0.0.1:8008;
	// APIURL how others reach it (default http://APIListen/patroni).
	APIListen, APIURL string

	// Command makes the commands that run PostgreSQL's programs (default
	// exec.CommandContext); tests run them as the postgres OS user.
	Command func(ctx context.Context, name string, args ...string) *exec.Cmd
	// Logger, default slog.Default().
	Logger *slog.Logger
}

// withDefaults fills in defaults and checks the options.
func (o Options) withDefaults() (Options, error) {
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.LoopWait == 0 {
		o.LoopWait = DefaultLoopWait
	}
	if o.RetryTimeout == 0 {
		o.RetryTimeout = DefaultRetryTimeout
	}
	if o.SafetyMargin == 0 {
		o.SafetyMargin = min(DefaultSafetyMargin, o.TTL/4)
	}
	if o.MaximumLagOnFailover == 0 {
		o.MaximumLagOnFailover = DefaultMaximumLagOnFailover
	}
	if o.ReplicationUser == "" {
		o.ReplicationUser = "postgres"
	}
	if o.PGLogFile == "" && o.PGData != "" {
		o.PGLogFile = filepath.Join(o.PGData, "pg_ctl.log")
	}
	if o.APIURL == "" && o.APIListen != "" {
		o.APIURL = "http://" + o.APIListen + "/patroni"
	}
	if o.Command == nil {
		o.Command = exec.CommandContext
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var errs []error
	for _, req := range []struct{ v, what string }{
		{o.Name, "a member name (name)"}, {o.Cluster, "a cluster name (scope)"}, {o.PGData, "a data directory (pgdata)"},
		{o.ConnURL, "the address others reach PostgreSQL at (conn_url)"}, {o.APIListen, "a REST API listen address"},
	} {
		if req.v == "" {
			errs = append(errs, fmt.Errorf("ha: needs %s", req.what))
		}
	}
	if o.Etcd == nil {
		errs = append(errs, errors.New("ha: needs etcd (etcd endpoints)"))
	}
	if o.SafetyMargin >= o.TTL {
		errs = append(errs, fmt.Errorf("ha: safety margin %s must be shorter than ttl %s", o.SafetyMargin, o.TTL))
	}
	if o.LoopWait >= o.TTL-o.SafetyMargin {
		errs = append(errs, fmt.Errorf("ha: loop_wait %s must be shorter than ttl %s - safety margin %s, or a primary fences itself between renewals",
			o.LoopWait, o.TTL, o.SafetyMargin))
	}
	return o, errors.Join(errs...)
}

// settings are the local defaults of the cluster's dynamic settings.
func (o Options) settings() dcs.Settings {
	return dcs.Settings{TTL: o.TTL, LoopWait: o.LoopWait, RetryTimeout: o.RetryTimeout, MaximumLagOnFailover: o.MaximumLagOnFailover,
		SynchronousMode: o.SynchronousMode, SynchronousModeStrict: o.SynchronousModeStrict}
}
