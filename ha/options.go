package ha

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/restore"
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

// Options configure an Agent (cmd builds them from the config's ha:
// section).
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
	// PermanentSlots are physical replication slots kept on every member
	// and advanced on the replicas (the repository server's receiver
	// slot), beside those of the config key's "slots".
	PermanentSlots []string

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
	// TLS, when set, makes the REST API speak HTTPS (see
	// internal/tlsfiles.Server); with ClientCAs, a verified client
	// certificate authenticates mutating calls. ClientTLS is how this
	// member reaches the other members' REST APIs (nil: the system's CAs).
	TLS, ClientTLS *tls.Config
	// Token, when set, is the bearer token every mutating REST call
	// (POST, PATCH, PUT, DELETE) must carry. Without a token (and without
	// client certificates), mutating calls are accepted from loopback
	// addresses only: from another host they are refused with 403.
	Token string

	// Parameters are the user's postgresql.conf settings (pg.parameters),
	// written with the agent's own into postgresql.pgkeep.conf before
	// every start.
	Parameters map[string]string
	// Repo is the repository, nil for none. With one, the member that
	// bootstraps the cluster registers it there, replicas are created from
	// its newest backup (ReplicaMethod backup), and the managed settings
	// archive into it (ArchiveCommand) and recover from it
	// (RestoreCommand).
	Repo *repo.Repo
	// RestoreCommand and ArchiveCommand are restore_command and
	// archive_command for this cluster's archive ("": not managed).
	RestoreCommand, ArchiveCommand string
	// ReplicaMethod is how an empty member becomes a replica:
	// ReplicaBackup (the newest backup, then streaming; pg_basebackup when
	// there is no repository or no backup yet) or ReplicaBasebackup.
	ReplicaMethod string
	// Bootstrap is how the first member creates the cluster.
	Bootstrap Bootstrap
	// StallTimeout: a replica that neither streams nor replays anything
	// for this long while the leader is ahead and answers is re-created
	// (default DefaultStallTimeout).
	StallTimeout time.Duration

	// Command makes the commands that run PostgreSQL's programs (default
	// exec.CommandContext); tests run them as the postgres OS user.
	Command func(ctx context.Context, name string, args ...string) *exec.Cmd
	// Logger, default slog.Default().
	Logger *slog.Logger
}

// Replica methods.
const (
	ReplicaBackup     = "backup"
	ReplicaBasebackup = "basebackup"
)

// Bootstrap methods.
const (
	BootstrapInitdb = "initdb"
	BootstrapBackup = "backup"
)

// Bootstrap says how the member that wins the initialize key creates the
// cluster: initdb, or a restore of a backup set of another cluster (or of
// this cluster's name, e.g. after losing every member), recovered to
// Target and promoted.
type Bootstrap struct {
	// Method is BootstrapInitdb (default) or BootstrapBackup.
	Method string
	// Cluster is the repository cluster whose backup is restored
	// (default: Options.Cluster).
	Cluster string
	// Set is the backup label; "" or "latest": the newest backup that
	// reaches Target.
	Set string
	// Target is the recovery target (restore.TargetNone: the end of the
	// archive).
	Target restore.Target
	// RestoreCommand fetches the source cluster's WAL during the recovery.
	RestoreCommand string
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
		scheme := "http"
		if o.TLS != nil {
			scheme = "https"
		}
		o.APIURL = scheme + "://" + o.APIListen + "/patroni"
	}
	if o.Command == nil {
		o.Command = exec.CommandContext
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ReplicaMethod == "" || o.Repo == nil {
		o.ReplicaMethod = map[bool]string{true: ReplicaBackup, false: ReplicaBasebackup}[o.Repo != nil]
	}
	if o.StallTimeout == 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	if o.Bootstrap.Method == "" {
		o.Bootstrap.Method = BootstrapInitdb
	}
	if o.Bootstrap.Cluster == "" {
		o.Bootstrap.Cluster = o.Cluster
	}
	if o.Bootstrap.Set == "latest" {
		o.Bootstrap.Set = ""
	}
	var errs []error
	if o.ReplicaMethod != ReplicaBackup && o.ReplicaMethod != ReplicaBasebackup {
		errs = append(errs, fmt.Errorf("ha: replica method %q: want %s or %s", o.ReplicaMethod, ReplicaBackup, ReplicaBasebackup))
	}
	switch o.Bootstrap.Method {
	case BootstrapInitdb:
	case BootstrapBackup:
		if o.Repo == nil || o.Bootstrap.RestoreCommand == "" {
			errs = append(errs, errors.New("ha: bootstrap from a backup needs a repository (repo:) to restore from"))
		}
	default:
		errs = append(errs, fmt.Errorf("ha: bootstrap method %q: want %s or %s", o.Bootstrap.Method, BootstrapInitdb, BootstrapBackup))
	}
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
	for _, s := range o.PermanentSlots {
		if !pg.ValidSlotName(s) {
			errs = append(errs, fmt.Errorf("ha: permanent slot %q: not a valid replication slot name (%s)", s, pg.SlotNameRule))
		}
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
