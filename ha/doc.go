// Package ha is the failover agent, `pgkeep ha`: one per PostgreSQL server.
// Together the agents keep one primary, elected through a lease in etcd
// (package dcs), by the decision in package decide, and answer HAProxy's
// health checks over a small REST API.
//
// An [Agent] runs a loop every loop_wait, and at once when the cluster's
// keys change: it reads its PostgreSQL's state and the cluster's keys,
// publishes its member key, asks the other members' REST APIs when an
// election may follow, decides, and acts (take or renew the leader key,
// promote, demote, follow). Beside the loop, a keeper renews the lease and a
// watchdog fences: a primary whose lease was not renewed by last renewal +
// ttl - safety margin is stopped at once, even when the loop is stuck.
//
// The agent also creates its PostgreSQL. On an empty data directory of a
// cluster that has no initialize key, the members race for the key (a
// create-if-absent transaction; an empty value while the bootstrap runs,
// the system identifier after): the winner runs initdb (data checksums),
// or restores a backup set of any cluster recovered to a target time and
// promoted (a new timeline; the system identifier is the source's),
// registers the cluster in the repository, starts it as primary and takes
// the leader key. The others, and any member on an empty data directory
// later, become replicas of the leader: from the newest backup in the
// repository (then recovery from the archive and streaming), else with
// pg_basebackup. A replica whose pg_rewind fails is re-created the same
// way, and so is one on request (Reinitialize, POST /reinitialize). A data
// directory of another system than the initialize key's is refused.
//
// Settings: postgresql.conf includes postgresql.pgkeep.conf, which the
// agent writes before every start: its defaults (replication, the
// repository's archive_command and restore_command), the user's
// pg.parameters over them, then the port. primary_conninfo,
// primary_slot_name and synchronous_standby_names go through ALTER SYSTEM.
//
// The primary also keeps a replication slot per other member and the
// permanent slots, publishing the latter's positions in the status key;
// the replicas keep copies of the permanent slots advanced to those
// positions, so that a slot's consumer (the repository server) continues
// on a new primary without a WAL gap. In synchronous mode the primary
// manages synchronous_standby_names and the sync key, in the order that
// keeps the sync key naming only standbys that have every acknowledged
// commit (see decide.SyncNext); only they may take the leader key.
package ha
