// Package dcs is the failover agent's distributed configuration store: etcd
// v3 in the key layout Patroni uses, so that patronictl and the repository
// server read a pgkeep cluster, and pgkeep reads a Patroni cluster.
//
// Under <namespace>/<cluster>/ (namespace default /service):
//
//	leader          the leader member's name, attached to its lease
//	members/<name>  each member's JSON (conn_url, api_url, state, role,
//	                timeline, xlog_location, tags...), attached to its lease
//	config          the dynamic configuration (ttl, loop_wait, pause...)
//	initialize      the system identifier, created once by the first member
//	failover        a switchover or manual failover request
//	sync            the synchronous standby the leader replicates to
//	history         the timeline switches
//	status          the leader's last known WAL position and slots
//
// A member holds one lease, whose TTL is the cluster's ttl: its member key
// is attached to it, and so is the leader key while it leads. When the
// member dies or is cut off, etcd deletes both when the lease expires.
//
// Every write that decides something is a compare-and-swap: the leader key
// is created only if it does not exist, released only by the lease that
// holds it, and the config, failover and sync keys change only at the
// revision the caller read. A lost compare is [ErrConflict] or
// [ErrNotLeader]; nothing is written then.
package dcs
