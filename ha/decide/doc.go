// Package decide is the failover agent's decision: what one member does in
// one turn of the HA loop, as a pure function of what it knows (the
// cluster's keys in etcd, its own PostgreSQL, the other members' answers
// and its own clock). It does nothing itself and needs no etcd, so every
// case is a row in a table test.
//
// The rules, in order:
//
//   - A member whose data directory holds no cluster: bootstrap when the
//     cluster has no initialize key (the agents race for it), else create a
//     replica of the running leader, or wait for one. A data directory of
//     another system than the initialize key's: refuse, do nothing.
//   - Maintenance mode (pause in the config key): no automatic action; a
//     primary keeps (or takes back) the leader key.
//   - Self-fence: a member running as primary that has not renewed its lease
//     since last renewal + ttl - safety margin, on its own monotonic clock,
//     demotes, whatever the cluster looks like: etcd may already have given
//     the key to another member.
//   - Holding the leader key: renew it (promote if still in recovery); hand
//     it over when a switchover names this member as the leader to leave;
//     release it when PostgreSQL is not running, so a replica takes over.
//   - Another member holds the key: follow it (demote first if running as
//     primary), rewinding when the timelines diverged.
//   - The key is free: an election among the members ([Elect]); the winner
//     takes the key, the others wait for it.
//
// Every [Decision] carries a reason a person can read, and an election
// carries every candidate with why it was excluded, for the history key,
// the logs and `pgkeep ctl failover --dry-run`.
package decide
