package dcs

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Failover is a request in the failover key. With Leader set it is a
// switchover away from that leader; with only Member set, a manual failover
// to that member. ScheduledAt, when set, is when a switchover is due.
type Failover struct {
	ModRevision int64
	Leader      string
	Member      string
	ScheduledAt *time.Time
}

// IsSwitchover reports whether the request names the leader to leave.
func (f Failover) IsSwitchover() bool { return f.Leader != "" }

// Due reports whether the request is to be carried out at now.
func (f Failover) Due(now time.Time) bool {
	return f.ScheduledAt == nil || !now.Before(*f.ScheduledAt)
}

// Empty reports whether the request names nobody (Patroni ignores it).
func (f Failover) Empty() bool { return f.Leader == "" && f.Member == "" }

// parseFailover decodes the failover key: Patroni's JSON, or the legacy
// "leader:member" form.
func parseFailover(rev int64, value []byte) *Failover {
	f := &Failover{ModRevision: rev}
	var raw struct {
		Leader      string `json:"leader"`
		Member      string `json:"member"`
		ScheduledAt string `json:"scheduled_at"`
	}
	if err := json.Unmarshal(value, &raw); err != nil {
		if strings.HasPrefix(strings.TrimSpace(string(value)), "{") {
			return f
		}
		leader, member, _ := strings.Cut(string(value), ":")
		f.Leader, f.Member = strings.TrimSpace(leader), strings.TrimSpace(member)
		return f
	}
	f.Leader, f.Member = raw.Leader, raw.Member
	if raw.ScheduledAt != "" {
		if t, err := parseTime(raw.ScheduledAt); err == nil {
			f.ScheduledAt = &t
		}
	}
	return f
}

// encode returns the failover key's value.
func (f Failover) encode() (string, error) {
	v := struct {
		Leader      string `json:"leader,omitempty"`
		Member      string `json:"member,omitempty"`
		ScheduledAt string `json:"scheduled_at,omitempty"`
	}{Leader: f.Leader, Member: f.Member}
	if f.ScheduledAt != nil {
		v.ScheduledAt = FormatTime(*f.ScheduledAt)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode failover: %w", err)
	}
	return string(b), nil
}

// patroniTime is how Patroni (Python's isoformat) writes times.
const patroniTime = "2006-01-02T15:04:05.999999-07:00"

// FormatTime writes t as Patroni writes timestamps: ISO 8601 with
// microseconds and a numeric zone, "2024-05-01T10:00:00.123456+00:00".
func FormatTime(t time.Time) string { return t.Format(patroniTime) }

// parseTime reads the timestamps Patroni and patronictl write (ISO 8601,
// with or without fractions, zone as offset or Z).
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, patroniTime, "2006-01-02T15:04:05.999999", "2006-01-02 15:04:05.999999-07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: not ISO 8601", s)
}
