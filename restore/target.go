package restore

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pgkeep/pgkeep/pg"
)

// Target kinds.
const (
	TargetNone      = ""
	TargetTime      = "time"
	TargetLSN       = "lsn"
	TargetXID       = "xid"
	TargetName      = "name"
	TargetImmediate = "immediate"
)

// Target actions (recovery_target_action).
const (
	ActionPromote  = "promote"
	ActionPause    = "pause"
	ActionShutdown = "shutdown"
)

// TargetSpec is a recovery target as given on the command line.
type TargetSpec struct {
	Time, LSN, XID, Name string
	Immediate            bool
	Action               string // promote, pause, shutdown; "": promote when a target is given
	Timeline             string // latest (""), current or a timeline number
	Exclusive            bool
}

// Target is a parsed recovery target.
type Target struct {
	Kind string // one of the Target* kinds
	Time time.Time
	LSN  pg.LSN
	XID  uint64
	Name string
	// Action is recovery_target_action: empty without a target, else
	// promote unless the caller chose otherwise (PostgreSQL's own default,
	// pause, leaves a restored server waiting for an operator).
	Action    string
	Timeline  string // latest, current or a number
	Exclusive bool
}

// maxTargetName is PostgreSQL's limit on recovery_target_name (MAXFNAMELEN-1).
const maxTargetName = 63

var lsnRe = regexp.MustCompile(`^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$`)

// ParseTarget validates spec. Times without a zone are read in loc. Every
// error is a *UsageError.
func ParseTarget(spec TargetSpec, loc *time.Location) (Target, error) {
	t := Target{Timeline: "latest"}
	var given []string
	if spec.Time != "" {
		given = append(given, "--target-time")
		tm, err := ParseTime(spec.Time, loc)
		if err != nil {
			return t, err
		}
		t.Kind, t.Time = TargetTime, tm
	}
	if spec.LSN != "" {
		given = append(given, "--target-lsn")
		if !lsnRe.MatchString(spec.LSN) {
			return t, usagef("--target-lsn %q: want an LSN such as 0/5000100", spec.LSN)
		}
		l, err := pg.ParseLSN(spec.LSN)
		if err != nil {
			return t, usagef("--target-lsn: %v", err)
		}
		t.Kind, t.LSN = TargetLSN, l
	}
	if spec.XID != "" {
		given = append(given, "--target-xid")
		x, err := strconv.ParseUint(spec.XID, 10, 64)
		if err != nil || x == 0 {
			return t, usagef("--target-xid %q: want a transaction id, a positive integer", spec.XID)
		}
		t.Kind, t.XID = TargetXID, x
	}
	if spec.Name != "" {
		given = append(given, "--target-name")
		if len(spec.Name) > maxTargetName {
			return t, usagef("--target-name %q: longer than PostgreSQL's %d bytes", spec.Name, maxTargetName)
		}
		t.Kind, t.Name = TargetName, spec.Name
	}
	if spec.Immediate {
		given = append(given, "--target-immediate")
		t.Kind = TargetImmediate
	}
	if len(given) > 1 {
		return t, usagef("only one recovery target may be given, not %s", strings.Join(given, " and "))
	}
	if err := t.setAction(spec.Action); err != nil {
		return t, err
	}
	if err := t.setTimeline(spec.Timeline); err != nil {
		return t, err
	}
	if spec.Exclusive && t.Kind != TargetTime && t.Kind != TargetLSN && t.Kind != TargetXID {
		return t, usagef("--target-exclusive needs --target-time, --target-lsn or --target-xid")
	}
	t.Exclusive = spec.Exclusive
	return t, nil
}

func (t *Target) setAction(a string) error {
	switch {
	case a != "" && t.Kind == TargetNone:
		return usagef("--target-action %s needs a recovery target (without one, recovery replays all WAL and promotes)", a)
	case a == "" && t.Kind != TargetNone:
		t.Action = ActionPromote
	case a == "" || a == ActionPromote || a == ActionPause || a == ActionShutdown:
		t.Action = a
	default:
		return usagef("--target-action %q: want promote, pause or shutdown", a)
	}
	return nil
}

func (t *Target) setTimeline(s string) error {
	switch s {
	case "", "latest":
		t.Timeline = "latest"
	case "current":
		t.Timeline = s
	default:
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil || n == 0 {
			return usagef("--target-timeline %q: want latest, current or a timeline number", s)
		}
		t.Timeline = strconv.FormatUint(n, 10)
	}
	return nil
}

// timelineFor is the timeline that recovery of a backup taken on timeline
// backup ends on, as repo.WALIndex.Window takes it (0: the latest).
func (t Target) timelineFor(backup uint32) uint32 {
	switch t.Timeline {
	case "latest", "":
		return 0
	case "current":
		return backup
	}
	n, _ := strconv.ParseUint(t.Timeline, 10, 32)
	return uint32(n)
}

// hasPoint reports whether the target is a time or LSN that a recovery
// window can be checked against.
func (t Target) hasPoint() bool { return t.Kind == TargetTime || t.Kind == TargetLSN }

// String describes the target for messages.
func (t Target) String() string {
	switch t.Kind {
	case TargetTime:
		return "target time " + PGTime(t.Time)
	case TargetLSN:
		return "target LSN " + t.LSN.String()
	case TargetXID:
		return fmt.Sprintf("target xid %d", t.XID)
	case TargetName:
		return fmt.Sprintf("target name %q", t.Name)
	case TargetImmediate:
		return "target immediate (the end of the backup)"
	}
	return "no target (the end of the archive)"
}

// Describe is String with the action and the timeline, for reports.
func (t Target) Describe() string {
	s := t.String()
	if t.Action != "" {
		s += ", then " + t.Action
	}
	tl := t.Timeline
	if tl == "" {
		tl = "latest"
	}
	return s + ", timeline " + tl
}
