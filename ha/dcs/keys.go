package dcs

import (
	"fmt"
	"strings"
)

// DefaultNamespace is Patroni's default namespace.
const DefaultNamespace = "/service"

// Keys names the etcd keys of one cluster.
type Keys struct {
	prefix string // "/service/main/"
}

// NewKeys returns the keys of cluster under namespace, normalised as
// Patroni does: "service", "/service" and "/service/" are the same, and an
// empty namespace is [DefaultNamespace].
func NewKeys(namespace, cluster string) (Keys, error) {
	if cluster == "" || strings.Contains(cluster, "/") {
		return Keys{}, fmt.Errorf("cluster name %q: must be non-empty and without '/'", cluster)
	}
	if namespace == "" {
		namespace = DefaultNamespace
	}
	parts := []string{}
	for _, p := range strings.Split(namespace, "/") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	prefix := "/" + strings.Join(append(parts, cluster), "/") + "/"
	return Keys{prefix: prefix}, nil
}

// Prefix is the cluster's directory, with a trailing slash.
func (k Keys) Prefix() string { return k.prefix }

// Leader is the leader key.
func (k Keys) Leader() string { return k.prefix + "leader" }

// Members is the directory of the member keys, with a trailing slash.
func (k Keys) Members() string { return k.prefix + "members/" }

// Member is the key of the member called name.
func (k Keys) Member(name string) string { return k.Members() + name }

// Config is the dynamic configuration key.
func (k Keys) Config() string { return k.prefix + "config" }

// Initialize is the key holding the cluster's system identifier.
func (k Keys) Initialize() string { return k.prefix + "initialize" }

// Failover is the switchover/failover request key.
func (k Keys) Failover() string { return k.prefix + "failover" }

// Sync is the synchronous replication state key.
func (k Keys) Sync() string { return k.prefix + "sync" }

// History is the timeline history key.
func (k Keys) History() string { return k.prefix + "history" }

// Status is the leader's status key (last known LSN, slots).
func (k Keys) Status() string { return k.prefix + "status" }

// name returns which of the cluster's keys key is, relative to the prefix
// ("leader", "members/a"), and false for keys outside the cluster.
func (k Keys) name(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, k.prefix)
	return rest, ok && rest != ""
}
