package restore

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// PGTime renders t the way PostgreSQL prints a timestamptz in UTC:
// 2026-11-22 09:00:00.123456+00.
func PGTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.999999") + "+00"
}

var pgTimeRe = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?) ?(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$`)

// ParseTime reads RFC 3339 or PostgreSQL's YYYY-MM-DD HH:MM:SS[.ffffff][+TZ]
// (TZ: +HH, +HH:MM, +HHMM, Z or UTC; absent: loc). Errors are *UsageError.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	m := pgTimeRe.FindStringSubmatch(strings.TrimSpace(s))
	bad := usagef("time %q: want RFC 3339 (2026-11-22T09:00:00Z) or 2026-11-22 09:00:00[.ffffff][+TZ]", s)
	if m == nil {
		return time.Time{}, bad
	}
	zone := loc
	if m[3] != "" {
		off, ok := parseOffset(m[3])
		if !ok {
			return time.Time{}, bad
		}
		zone = time.FixedZone("", off)
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", m[1]+" "+m[2], zone)
	if err != nil {
		return time.Time{}, usagef("time %q: %v", s, err)
	}
	return t, nil
}

// parseOffset reads Z, UTC, +HH, +HH:MM or +HHMM as seconds east of UTC.
func parseOffset(z string) (int, bool) {
	if z == "Z" || z == "UTC" {
		return 0, true
	}
	sign := 1
	if z[0] == '-' {
		sign = -1
	}
	digits := strings.ReplaceAll(z[1:], ":", "")
	h, _ := strconv.Atoi(digits[:2])
	mins := 0
	if len(digits) == 4 {
		mins, _ = strconv.Atoi(digits[2:])
	}
	if h > 15 || mins > 59 {
		return 0, false
	}
	return sign * (h*3600 + mins*60), true
}
