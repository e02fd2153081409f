package decide

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
)

// Synchronous replication, as the primary manages it. Two things name the
// synchronous standby: the sync key in etcd (K: the members that may take
// the free leader key) and PostgreSQL's synchronous_standby_names (N: whose
// flush a commit waits for before it is acknowledged). The invariant:
//
//	every standby K names has flushed every commit the primary has
//	acknowledged.
//
// So whichever member K lets take over has every acknowledged commit. It
// holds when K only ever shrinks before N changes and only grows after:
//
//   - dropping a standby: K first (compare-and-swap), then N. While K still
//     named it, N did too, so every acknowledged commit waited for it.
//   - adding a standby: N first; then, once pg_stat_replication shows it
//     synchronous, the primary notes its WAL position L; once the standby
//     has flushed L, everything acknowledged before it became synchronous
//     is on it, and everything after waits for it: then K (compare-and-swap).
//
// The reverse order (K before N when adding, N before K when dropping)
// would let K name a standby while commits are acknowledged without it:
// lose the primary then, and the member K lets take over lacks them.
//
// A new primary writes K = {leader: itself, no standby} before it promotes,
// with N empty (or '*' in strict mode) on the standby being promoted: from
// its first commit on, only it may lead. One step per turn; the agent
// turns again at once after a write.

// SyncInput is what the primary knows about its synchronous replication.
type SyncInput struct {
	// Self is the primary, holding the leader key.
	Self string
	// Settings: SynchronousMode and SynchronousModeStrict.
	Settings dcs.Settings
	// Key is the sync key, nil when absent.
	Key *dcs.SyncState
	// Members are the cluster's members (their tags).
	Members []dcs.Member
	// Names are the standbys synchronous_standby_names names explicitly;
	// Star is true when it is '*' (any standby). NamesManaged: the value
	// was set by the agent (ALTER SYSTEM), not by the user's configuration.
	Names        []string
	Star         bool
	NamesManaged bool
	// Standbys are the rows of pg_stat_replication.
	Standbys []Standby
}

// Standby is one replication connection to the primary.
type Standby struct {
	// Name is its application_name (a member's name).
	Name string
	// Streaming: state = 'streaming'. Sync: sync_state = 'sync'.
	Streaming, Sync bool
	// Flush is how far it has flushed WAL.
	Flush pg.LSN
	// Ready: it has flushed the primary's WAL position as it was when it
	// was first seen synchronous under its own name in
	// synchronous_standby_names (so it has every commit acknowledged
	// before then).
	Ready bool
}

// SyncAction is one step of the synchronous replication's management.
type SyncAction int

const (
	// SyncKeep: nothing to change.
	SyncKeep SyncAction = iota
	// SyncWriteKey: write the sync key {leader: Self, sync_standby:
	// Standby} (compare-and-swap on the key's revision, leader only).
	SyncWriteKey
	// SyncDeleteKey: delete the sync key (synchronous mode is off).
	SyncDeleteKey
	// SyncSetNames: set synchronous_standby_names to Standby, to '*' when
	// Star, to '' (asynchronous) when neither.
	SyncSetNames
	// SyncWait: a standby was named and is not synchronous or caught up
	// yet; look again later.
	SyncWait
)

var syncActionNames = [...]string{SyncKeep: "keep", SyncWriteKey: "write sync key", SyncDeleteKey: "delete sync key",
	SyncSetNames: "set synchronous_standby_names", SyncWait: "wait"}

func (a SyncAction) String() string {
	if int(a) < len(syncActionNames) {
		return syncActionNames[a]
	}
	return "unknown"
}

// SyncStep is the next step, and why.
type SyncStep struct {
	Action  SyncAction
	Standby string
	Star    bool
	Reason  string
}

// SyncNext returns the next step of the synchronous replication's
// management on the primary. It is a pure function of its input.
func SyncNext(in SyncInput) SyncStep {
	if !in.Settings.SynchronousMode {
		switch {
		case in.Key != nil:
			return SyncStep{Action: SyncDeleteKey, Reason: "synchronous mode is off: deleting the sync key"}
		case in.NamesManaged && (len(in.Names) > 0 || in.Star):
			return SyncStep{Action: SyncSetNames, Reason: "synchronous mode is off: clearing synchronous_standby_names"}
		}
		return SyncStep{Action: SyncKeep, Reason: "synchronous mode is off"}
	}
	if in.Key == nil || !strings.EqualFold(in.Key.Leader, in.Self) {
		return SyncStep{Action: SyncWriteKey, Reason: "the sync key does not name this primary as the leader: taking it over with no synchronous standby"}
	}
	keyedAll := in.Key.Standbys()
	var keyed string // the standby the key names (pgkeep keeps one synchronous standby)
	if len(keyedAll) > 0 {
		keyed = keyedAll[0]
	}
	pick, why, skip := pickStandby(in, keyed)
	// 1. Shrink K: it may name only the standby that stays, and only while
	// that one is synchronous under its own name.
	if len(keyedAll) > 0 {
		sb, ok := standby(in.Standbys, keyed)
		var r string
		switch {
		case len(keyedAll) > 1:
			r = "the sync key names several standbys: keeping " + keyed + " alone"
		case !strings.EqualFold(keyed, pick):
			r = fmt.Sprintf("%s is to stop being the synchronous standby (%s): removing it from the sync key first", keyed, cmp.Or(skip[strings.ToLower(keyed)], why))
		case !ok || !sb.Sync || !named(in.Names, keyed):
			r = fmt.Sprintf("%s is not synchronous any more: removing it from the sync key first", keyed)
		}
		if r != "" {
			keep := ""
			if ok && sb.Sync && named(in.Names, keyed) && strings.EqualFold(keyed, pick) {
				keep = keyed
			}
			return SyncStep{Action: SyncWriteKey, Standby: keep, Reason: r}
		}
	}
	// 2. Set N.
	star := pick == "" && in.Settings.SynchronousModeStrict
	if !sameNames(in.Names, in.Star, pick, star) {
		r := fmt.Sprintf("naming %s the synchronous standby (%s)", pick, why)
		switch {
		case star:
			r = "strict mode and no standby can be synchronous (" + why + "): '*', writes wait for any standby"
		case pick == "":
			r = "no standby can be synchronous (" + why + "): replicating asynchronously, only this primary may lead"
		}
		return SyncStep{Action: SyncSetNames, Standby: pick, Star: star, Reason: r}
	}
	if pick == "" || strings.EqualFold(keyed, pick) {
		return SyncStep{Action: SyncKeep, Standby: keyed, Reason: "synchronous standby: " + cmp.Or(keyed, "none")}
	}
	// 3. Grow K, once the standby has caught up under N.
	sb, _ := standby(in.Standbys, pick)
	if !sb.Sync || !sb.Ready {
		return SyncStep{Action: SyncWait, Standby: pick,
			Reason: fmt.Sprintf("waiting for %s to be synchronous and flush what was acknowledged before it was", pick)}
	}
	return SyncStep{Action: SyncWriteKey, Standby: pick, Reason: fmt.Sprintf("%s is synchronous and caught up: naming it in the sync key", pick)}
}

// pickStandby chooses the synchronous standby among the streaming
// standbys that are members not tagged nosync: the one the key names while
// it stays one, else members that may fail over before those that may not,
// then the higher failover_priority, then the most WAL flushed, then the
// name. It says why for the log, and why each standby it skipped is not
// a candidate (by lowercase name; a standby not connected is not there).
func pickStandby(in SyncInput, keyed string) (string, string, map[string]string) {
	type cand struct {
		Standby
		tags dcs.Tags
	}
	var cands []cand
	var skipped []string
	skip := map[string]string{}
	for _, s := range in.Standbys {
		i := slices.IndexFunc(in.Members, func(m dcs.Member) bool { return strings.EqualFold(m.Name, s.Name) })
		why := ""
		switch {
		case strings.EqualFold(s.Name, in.Self):
			continue
		case i < 0:
			why = "not a member"
		case !s.Streaming:
			why = "not streaming"
		case in.Members[i].Data.Tags.NoSync():
			why = "tagged nosync"
		default:
			cands = append(cands, cand{s, in.Members[i].Data.Tags})
			continue
		}
		skip[strings.ToLower(s.Name)] = why
		skipped = append(skipped, s.Name+": "+why)
	}
	if len(cands) == 0 {
		if len(skipped) == 0 {
			return "", "no standby is connected", skip
		}
		return "", strings.Join(skipped, "; "), skip
	}
	if i := slices.IndexFunc(cands, func(c cand) bool { return strings.EqualFold(c.Name, keyed) }); i >= 0 {
		return cands[i].Name, "the current synchronous standby, streaming", skip
	}
	slices.SortFunc(cands, func(a, b cand) int {
		af, bf := !a.tags.NoFailover(), !b.tags.NoFailover()
		if af != bf {
			if af {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(b.tags.FailoverPriority(), a.tags.FailoverPriority()), cmp.Compare(b.Flush, a.Flush), cmp.Compare(a.Name, b.Name))
	})
	return cands[0].Name, fmt.Sprintf("the best of %d streaming standby(s), flushed to %s", len(cands), cands[0].Flush), skip
}

// standby finds a row of pg_stat_replication by name.
func standby(ss []Standby, name string) (Standby, bool) {
	i := slices.IndexFunc(ss, func(s Standby) bool { return strings.EqualFold(s.Name, name) })
	if i < 0 {
		return Standby{}, false
	}
	return ss[i], true
}

// named reports whether synchronous_standby_names names name explicitly.
func named(names []string, name string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) })
}

// sameNames reports whether synchronous_standby_names is what is wanted:
// exactly pick, or '*', or nothing.
func sameNames(names []string, star bool, pick string, wantStar bool) bool {
	switch {
	case wantStar:
		return star && len(names) == 0
	case pick == "":
		return !star && len(names) == 0
	}
	return !star && len(names) == 1 && strings.EqualFold(names[0], pick)
}
