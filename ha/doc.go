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
package ha
