package dcs

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// ClusterConfig is the dynamic configuration (the config key): Patroni's
// JSON object, kept whole so that keys pgkeep does not know survive an
// edit. An unparseable value reads as an empty object, as in Patroni.
type ClusterConfig struct {
	ModRevision int64
	Data        map[string]any
}

// Settings are the dynamic settings the HA loop runs by.
type Settings struct {
	// TTL is the leader lease's time to live (config key ttl, seconds).
	TTL time.Duration
	// LoopWait is the pause between HA loops (loop_wait, seconds).
	LoopWait time.Duration
	// RetryTimeout bounds DCS and PostgreSQL calls (retry_timeout, seconds).
	RetryTimeout time.Duration
	// MaximumLagOnFailover is how many bytes a replica may be behind the
	// last known leader position and still be promoted
	// (maximum_lag_on_failover).
	MaximumLagOnFailover uint64
	// SynchronousMode (synchronous_mode): only the synchronous standby may
	// become the leader.
	SynchronousMode bool
	// SynchronousModeStrict (synchronous_mode_strict): without a
	// synchronous standby the primary blocks writes.
	SynchronousModeStrict bool
	// Pause (pause): maintenance mode, no automatic action.
	Pause bool
}

// Settings returns the settings in the config, with defaults for those it
// does not set (c may be nil: no config key). Values of the wrong type are
// ignored, as Patroni does.
func (c *ClusterConfig) Settings(defaults Settings) Settings {
	s := defaults
	if c == nil {
		return s
	}
	if d, ok := seconds(c.Data["ttl"]); ok {
		s.TTL = d
	}
	if d, ok := seconds(c.Data["loop_wait"]); ok {
		s.LoopWait = d
	}
	if d, ok := seconds(c.Data["retry_timeout"]); ok {
		s.RetryTimeout = d
	}
	if f, ok := c.Data["maximum_lag_on_failover"].(float64); ok && f >= 0 {
		s.MaximumLagOnFailover = uint64(f)
	}
	if v, ok := c.Data["synchronous_mode"]; ok {
		// Patroni 4 also accepts "quorum", which is a synchronous mode.
		s.SynchronousMode = truthy(v)
	}
	if v, ok := c.Data["synchronous_mode_strict"]; ok {
		s.SynchronousModeStrict = truthy(v)
	}
	if v, ok := c.Data["pause"]; ok {
		s.Pause = truthy(v)
	}
	return s
}

// seconds reads a number of seconds (Patroni writes integers; fractions are
// accepted).
func seconds(v any) (time.Duration, bool) {
	f, ok := v.(float64)
	if !ok || f <= 0 || f > math.MaxInt32 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// parseConfig decodes the config key's value.
func parseConfig(rev int64, value []byte) *ClusterConfig {
	c := &ClusterConfig{ModRevision: rev}
	if err := json.Unmarshal(value, &c.Data); err != nil || c.Data == nil {
		c.Data = map[string]any{}
	}
	return c
}

// encodeConfig encodes a config value.
func encodeConfig(data map[string]any) (string, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return "", fmt.Errorf("encode config: %w", err)
	}
	return string(b), nil
}
