package dcs

import "time"

// LeaseSeconds converts a TTL to the whole seconds etcd leases are granted
// in, rounding up: etcd must never expire a lease before the agent's own
// deadline, which is computed from ttl itself. At least 1. (etcd may grant
// more than asked, never less; its minimum is about 1.5 election timeouts.)
//
// This and [LeaseDuration] are the only conversions between a TTL and
// etcd's seconds.
func LeaseSeconds(ttl time.Duration) int64 {
	s := int64((ttl + time.Second - 1) / time.Second)
	return max(s, 1)
}

// LeaseDuration converts etcd's lease seconds to a duration.
func LeaseDuration(seconds int64) time.Duration {
	return time.Duration(seconds) * time.Second
}
