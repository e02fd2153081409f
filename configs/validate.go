package configs

import (
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pgkeep/pgkeep/internal/cron"
	"github.com/pgkeep/pgkeep/pg"
)

var (
	azureAccount   = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
	azureContainer = regexp.MustCompile(`^[a-z0-9](-?[a-z0-9])+$`)
)

// Validate checks every setting and the combinations between them, and returns the first
// problem as a *Error naming the key. Settings only some commands need are checked by the
// Require methods.
func (c *Config) Validate() error {
	for _, check := range []func() error{c.validateTop, c.Repo.validate, c.PG.validate, c.Etcd.validate, c.Archive.validate, c.Backup.validate, c.Retention.validate, c.Server.validate, c.HA.validate} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// RequireCluster returns an error if no cluster name is set.
func (c *Config) RequireCluster() error {
	if c.Cluster == "" {
		return missing("cluster")
	}
	return nil
}

// Configured reports whether a repository is configured: repo.type posix needs repo.path, the
// other types are checked by Validate.
func (r *Repo) Configured() bool { return r.Type != RepoPosix || r.Path != "" }

// RequireRepo returns an error unless a repository is configured (a posix repository needs
// repo.path). Every command that opens the repository calls it; pgkeep ha runs without one.
func (c *Config) RequireRepo() error {
	if !c.Repo.Configured() {
		return invalid("repo.path", "required for repo.type posix")
	}
	return nil
}

// missing reports a setting a command needs and nobody gave, saying how to give it.
func missing(key string) error {
	return invalid(key, "required (--%s, %s or %s: in the config file)", flagName(key), envName(key), key)
}

func (c *Config) validateTop() error {
	if c.Cluster != "" && !pg.ValidClusterName(c.Cluster) {
		return invalid("cluster", "%q is not a valid cluster name ("+pg.ClusterNameRule+")", c.Cluster)
	}
	if err := oneOf("log-level", c.LogLevel, "debug", "info", "warn", "error"); err != nil {
		return err
	}
	return oneOf("output", c.Output, "text", "json")
}

func (r *Repo) validate() error {
	if err := oneOf("repo.type", r.Type, RepoPosix, RepoAzure, RepoServer); err != nil {
		return err
	}
	if err := r.validateCompression(); err != nil {
		return err
	}
	switch r.Type {
	case RepoPosix:
		// repo.path may be empty: pgkeep ha runs without a repository;
		// the commands that open one call RequireRepo.
	case RepoServer:
		if r.Server == "" {
			return invalid("repo.server", "required for repo.type server")
		}
		return checkURL("repo.server", r.Server)
	case RepoAzure:
		return r.Azure.validate()
	}
	return nil
}

func (r *Repo) validateCompression() error {
	if err := oneOf("repo.compress-type", r.CompressType, CompressZstd, CompressS2, CompressGzip, CompressNone); err != nil {
		return err
	}
	if r.CompressType == CompressNone {
		if r.CompressLevel != 0 {
			return invalid("repo.compress-level", "must be 0 or unset for repo.compress-type none, got %d", r.CompressLevel)
		}
		return nil
	}
	lr := compressLevels[r.CompressType]
	if r.CompressLevel != 0 && (r.CompressLevel < lr.min || r.CompressLevel > lr.max) {
		return invalid("repo.compress-level", "%d out of range %d-%d for %s", r.CompressLevel, lr.min, lr.max, r.CompressType)
	}
	return nil
}

func (a *Azure) validate() error {
	switch {
	case a.Account == "":
		return invalid("repo.azure.account", "required for repo.type azure")
	case !azureAccount.MatchString(a.Account):
		return invalid("repo.azure.account", "%q is not a valid storage account name (3-24 lowercase letters and digits)", a.Account)
	case a.Container == "":
		return invalid("repo.azure.container", "required for repo.type azure")
	case len(a.Container) < 3 || len(a.Container) > 63 || !azureContainer.MatchString(a.Container):
		return invalid("repo.azure.container", "%q is not a valid container name "+
			"(3-63 lowercase letters, digits and single '-', starting and ending with a letter or digit)", a.Container)
	}
	if a.Endpoint != "" {
		if err := checkURL("repo.azure.endpoint", a.Endpoint); err != nil {
			return err
		}
	}
	var given []string
	for _, s := range []struct {
		name string
		v    Secret
	}{{"key", a.Key}, {"sas", a.SAS}, {"connection-string", a.ConnectionString}} {
		if s.v != "" {
			given = append(given, s.name)
		}
	}
	if len(given) > 1 {
		return invalid("repo.azure", "more than one credential given (%s); give one of key, sas or connection-string",
			strings.Join(given, ", "))
	}
	return nil
}

// managedParameters are the settings pgkeep ha writes itself, refused in pg.parameters, with
// what to set instead.
var managedParameters = map[string]string{
	"port":                      "set pg.port",
	"primary_conninfo":          "it points each replica at the leader",
	"primary_slot_name":         "it points each replica at the leader",
	"synchronous_standby_names": "set ha.synchronous-mode",
}

func (p *PG) validate() error {
	if p.Port < 1 || p.Port > 65535 {
		return invalid("pg.port", "%d out of range 1-65535", p.Port)
	}
	for _, k := range slices.Sorted(maps.Keys(p.Parameters)) {
		if why, ok := managedParameters[strings.ToLower(k)]; ok {
			return invalid("pg.parameters", "%s is managed by pgkeep ha: %s", strings.ToLower(k), why)
		}
	}
	return nil
}

func (e *Etcd) validate() error {
	for _, ep := range e.Endpoints {
		if strings.Contains(ep, "://") {
			if err := checkURL("etcd.endpoints", ep); err != nil {
				return err
			}
		} else if _, _, err := net.SplitHostPort(ep); err != nil {
			return invalid("etcd.endpoints", "%q is neither an http(s) URL nor host:port", ep)
		}
	}
	if !strings.HasPrefix(e.Namespace, "/") {
		return invalid("etcd.namespace", "%q must start with '/'", e.Namespace)
	}
	return nil
}

func (a *Archive) validate() error {
	switch {
	case a.Timeout <= 0:
		return invalid("archive.timeout", "must be positive, got %s", a.Timeout)
	case a.QueueMaxMB < 0:
		return invalid("archive.queue-max-mb", "%d is negative", a.QueueMaxMB)
	case a.GetQueueMaxMB < 0:
		return invalid("archive.get-queue-max-mb", "%d is negative", a.GetQueueMaxMB)
	case a.ProcessMax < 1 || a.ProcessMax > 64:
		return invalid("archive.process-max", "%d out of range 1-64", a.ProcessMax)
	case a.Async && a.SpoolPath == "":
		return invalid("archive.spool-path", "required for archive.async")
	case a.SpoolPath != "" && !strings.HasPrefix(a.SpoolPath, "/"):
		return invalid("archive.spool-path", "%q is not an absolute path", a.SpoolPath)
	}
	return nil
}

func (r *Retention) validate() error {
	for _, v := range []struct {
		key string
		n   int
	}{{"retention.full", r.Full}, {"retention.diff", r.Diff}, {"retention.days", r.Days}} {
		if v.n < 0 {
			return invalid(v.key, "%d is negative", v.n)
		}
	}
	return nil
}

func (h *HA) validate() error {
	switch {
	case h.TTL < 2*time.Second:
		return invalid("ha.ttl", "must be at least 2s, got %s", h.TTL)
	case h.LoopWait <= 0 || h.LoopWait >= h.TTL:
		return invalid("ha.loop-wait", "must be positive and below ha.ttl (%s), got %s", h.TTL, h.LoopWait)
	case h.RetryTimeout <= 0 || h.RetryTimeout >= h.TTL:
		return invalid("ha.retry-timeout", "must be positive and below ha.ttl (%s), got %s", h.TTL, h.RetryTimeout)
	case h.MaximumLagOnFailoverMB < 0:
		return invalid("ha.maximum-lag-on-failover-mb", "%d is negative", h.MaximumLagOnFailoverMB)
	case h.StallTimeout < 10*time.Second:
		return invalid("ha.stall-timeout", "must be at least 10s (a replica catching up after a restart is not stuck), got %s", h.StallTimeout)
	case h.SynchronousModeStrict && !h.SynchronousMode:
		return invalid("ha.synchronous-mode-strict", "needs ha.synchronous-mode")
	case (h.TLSCertFile == "") != (h.TLSKeyFile == ""):
		return invalid("ha.tls-cert-file", "give both ha.tls-cert-file and ha.tls-key-file, or neither")
	case h.ClientCAFile != "" && h.TLSCertFile == "":
		return invalid("ha.client-ca-file", "client certificates need TLS: set ha.tls-cert-file and ha.tls-key-file")
	}
	for _, a := range []struct{ key, v string }{{"ha.listen", h.Listen}, {"ha.connect-address", h.ConnectAddress}, {"ha.pg-connect-address", h.PGConnectAddress}} {
		if a.v == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			return invalid(a.key, "%q is not host:port", a.v)
		}
	}
	for _, slot := range h.PermanentSlots {
		if !pg.ValidSlotName(slot) {
			return invalid("ha.permanent-slots", "%q is not a valid replication slot name (%s)", slot, pg.SlotNameRule)
		}
	}
	if err := oneOf("ha.replica-method", h.ReplicaMethod, "backup", "basebackup"); err != nil {
		return err
	}
	if err := oneOf("ha.bootstrap.method", h.Bootstrap.Method, "initdb", "backup"); err != nil {
		return err
	}
	if h.Bootstrap.Cluster != "" && !pg.ValidClusterName(h.Bootstrap.Cluster) {
		return invalid("ha.bootstrap.cluster", "%q is not a valid cluster name", h.Bootstrap.Cluster)
	}
	return nil
}

// Any reports whether at least one retention rule is set.
func (r Retention) Any() bool { return r.Full > 0 || r.Diff > 0 || r.Days > 0 }

func (s *Server) validate() error {
	if s.Listen != "" {
		if _, _, err := net.SplitHostPort(s.Listen); err != nil {
			return invalid("server.listen", "%q is not host:port", s.Listen)
		}
	}
	switch {
	case (s.TLSCertFile == "") != (s.TLSKeyFile == ""):
		return invalid("server.tls-cert-file", "give both server.tls-cert-file and server.tls-key-file, or neither")
	case s.ClientCAFile != "" && s.TLSCertFile == "":
		return invalid("server.client-ca-file", "client certificates need TLS: set server.tls-cert-file and server.tls-key-file")
	case !pg.ValidSlotName(s.Slot):
		return invalid("server.slot", "%q is not a valid replication slot name (%s)", s.Slot, pg.SlotNameRule)
	case s.ApplicationName == "":
		return invalid("server.application-name", "must not be empty")
	case s.SynchronousStrict && !s.Synchronous:
		return invalid("server.synchronous-strict", "needs server.synchronous")
	case s.PartialInterval <= 0:
		return invalid("server.partial-interval", "must be positive, got %s", s.PartialInterval)
	case s.LeaseTTL < 2*time.Second:
		return invalid("server.lease-ttl", "must be at least 2s, got %s", s.LeaseTTL)
	case s.SpoolPath == "" || !strings.HasPrefix(s.SpoolPath, "/"):
		return invalid("server.spool-path", "%q is not an absolute path", s.SpoolPath)
	}
	for _, e := range []struct{ key, expr string }{
		{"server.schedule.full", s.Schedule.Full}, {"server.schedule.diff", s.Schedule.Diff},
		{"server.schedule.incr", s.Schedule.Incr}, {"server.schedule.verify", s.Schedule.Verify},
	} {
		if e.expr == "" {
			continue
		}
		if _, err := cron.Parse(e.expr); err != nil {
			return invalid(e.key, "%v", err)
		}
	}
	return nil
}

// oneOf checks that the setting key has one of the allowed values.
func oneOf(key, v string, allowed ...string) error {
	if !slices.Contains(allowed, v) {
		return invalid(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	return nil
}

// checkURL checks that the setting key is an http or https URL with a host.
func checkURL(key, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid(key, "%q is not an http(s) URL", s)
	}
	return nil
}

func (b *Backup) validate() error {
	if b.Workers < 0 {
		return invalid("backup.workers", "%d is negative", b.Workers)
	}
	for _, f := range b.ConfigFiles {
		if !strings.HasPrefix(f, "/") {
			return invalid("backup.config-files", "%q is not an absolute path", f)
		}
	}
	return nil
}
