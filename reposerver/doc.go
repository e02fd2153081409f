// Package reposerver is pgkeep server, the daemon on the repository VM.
//
// Of the servers configured for a cluster, the one holding an etcd
// election (a key on a lease of server.lease-ttl) is active: it follows the
// cluster's leader key, streams the leader's WAL into the repository with
// a walarchive.Receiver, and runs the scheduled backups, expires and
// verifies. The others wait to take over. Every server serves /status,
// /metrics and, where authentication is configured, the repository API
// that lets database nodes archive through it without storage credentials.
//
// Without etcd a single server is always active and streams from the
// configured PostgreSQL host.
package reposerver
