package dcs

import (
	"math"
	"strconv"
	"strings"
)

// Tags are a member's tags, as configured and written in its key. Patroni's
// tags are loosely typed (YAML booleans, numbers or strings); the methods
// read them the way Patroni does.
type Tags map[string]any

// Tag names with a meaning to the agent.
const (
	TagNoFailover       = "nofailover"
	TagFailoverPriority = "failover_priority"
	TagNoSync           = "nosync"
	TagNoLoadBalance    = "noloadbalance"
	TagCloneFrom        = "clonefrom"
	TagReplicateFrom    = "replicatefrom"
)

// NoFailover reports whether the member may never become the leader: the
// nofailover tag when it is set (true or false), else a failover_priority
// of 0 or less.
func (t Tags) NoFailover() bool {
	if v, ok := t[TagNoFailover]; ok && v != nil {
		return truthy(v)
	}
	if p, ok := integer(t[TagFailoverPriority]); ok {
		return p <= 0
	}
	return false
}

// FailoverPriority is the member's priority among candidates with the same
// WAL position (higher wins): 0 when nofailover is true, else the
// failover_priority tag, default 1.
func (t Tags) FailoverPriority() int {
	if v, ok := t[TagNoFailover]; ok && v != nil && truthy(v) {
		return 0
	}
	if p, ok := integer(t[TagFailoverPriority]); ok {
		return p
	}
	return 1
}

// NoSync reports whether the member may never be a synchronous standby.
func (t Tags) NoSync() bool { return truthy(t[TagNoSync]) }

// NoLoadBalance reports whether the member asks to get no read traffic.
func (t Tags) NoLoadBalance() bool { return truthy(t[TagNoLoadBalance]) }

// CloneFrom reports whether replicas may be cloned from the member.
func (t Tags) CloneFrom() bool { return truthy(t[TagCloneFrom]) }

// ReplicateFrom is the member to stream from instead of the leader.
func (t Tags) ReplicateFrom() string {
	s, _ := t[TagReplicateFrom].(string)
	return s
}

// truthy reads a loosely typed boolean: a string is parsed ("true", "off"
// ...), and a string that is no boolean counts as true when non-empty.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0
	case int:
		return x != 0
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "", "false", "off", "no", "0", "f", "n":
			return false
		}
		return true
	}
	return true
}

// integer reads a loosely typed integer.
func integer(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > math.MaxInt32 {
			return 0, false
		}
		return int(x), true
	case int:
		return x, true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		return n, err == nil
	}
	return 0, false
}
