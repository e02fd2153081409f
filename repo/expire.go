package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo/storage"
)

// ErrNoRetention: expire was asked to run without any retention rule.
var ErrNoRetention = errors.New("no retention rule given")

// Retention says which backups expire keeps; a zero field is no rule.
// Backups go when a count rule (Full, Diff) expires them and Days does not
// need them; a backup that a kept backup references always stays.
type Retention struct {
	Full int // keep the newest Full full backups and every backup depending on them
	Diff int // keep the newest Diff diff backups; incrs depending on an expired diff go with it
	Days int // keep every backup needed to restore to any time in the last Days days
}

func (ret Retention) validate() error {
	if ret.Full < 0 || ret.Diff < 0 || ret.Days < 0 {
		return fmt.Errorf("retention %+v: counts must not be negative", ret)
	}
	if ret.Full == 0 && ret.Diff == 0 && ret.Days == 0 {
		return ErrNoRetention
	}
	return nil
}

// ExpiredBackup is a backup that expire removes, and why.
type ExpiredBackup struct {
	Label      string `json:"label"`
	Type       string `json:"type"`
	StoredSize int64  `json:"stored-size"`
	Reason     string `json:"reason"`
}

// ExpirePlan is what expire removes and keeps, oldest first.
type ExpirePlan struct {
	Remove []ExpiredBackup
	Keep   []*Manifest
}

// PlanExpire decides which of the backups ms to remove under ret at now.
func PlanExpire(ms []*Manifest, ret Retention, now time.Time) (ExpirePlan, error) {
	if err := ret.validate(); err != nil {
		return ExpirePlan{}, err
	}
	ms = slices.Clone(ms)
	sort.Slice(ms, func(i, j int) bool { return ms[i].Label < ms[j].Label })
	why := map[string]string{} // label -> reason it goes
	if ret.Full > 0 {
		expireFulls(ms, ret.Full, why)
	}
	if ret.Diff > 0 {
		expireDiffs(ms, ret.Diff, why)
	}
	if ret.Days > 0 {
		keepDays(ms, ret, now, why)
	}
	keepReferenced(ms, why)
	var plan ExpirePlan
	for _, m := range ms {
		if r, ok := why[m.Label]; ok {
			plan.Remove = append(plan.Remove, ExpiredBackup{Label: m.Label, Type: m.Type, StoredSize: m.StoredSize, Reason: r})
		} else {
			plan.Keep = append(plan.Keep, m)
		}
	}
	return plan, nil
}

// newest returns the labels of the newest n backups of type typ.
func newest(ms []*Manifest, typ string, n int) (kept, expired []string) {
	var of []string
	for _, m := range ms {
		if m.Type == typ {
			of = append(of, m.Label)
		}
	}
	cut := max(0, len(of)-n)
	return of[cut:], of[:cut]
}

// fullOf is the label of the full backup of label's backup set.
func fullOf(label string) string {
	full, _, _ := strings.Cut(label, "_")
	return full
}

// expireFulls expires every backup set but those of the newest n fulls.
func expireFulls(ms []*Manifest, n int, why map[string]string) {
	kept, _ := newest(ms, BackupFull, n)
	for _, m := range ms {
		switch full := fullOf(m.Label); {
		case slices.Contains(kept, full):
		case full == m.Label:
			why[m.Label] = fmt.Sprintf("older than the newest %d full backups", n)
		default:
			why[m.Label] = fmt.Sprintf("its full backup %s is not among the newest %d", full, n)
		}
	}
}

// expireDiffs expires all but the newest n diff backups, and every backup
// that depends on an expired diff.
func expireDiffs(ms []*Manifest, n int, why map[string]string) {
	_, expired := newest(ms, BackupDiff, n)
	gone := map[string]bool{}
	for _, l := range expired {
		gone[l] = true
		why[l] = fmt.Sprintf("older than the newest %d diff backups", n)
	}
	for changed := true; changed; {
		changed = false
		for _, m := range ms {
			if gone[m.Label] {
				continue
			}
			for _, l := range refs(m) {
				if gone[l] {
					gone[m.Label], changed = true, true
					why[m.Label] = "depends on expired " + l
					break
				}
			}
		}
	}
}

// refs are the other backups whose objects m needs.
func refs(m *Manifest) []string {
	seen := map[string]bool{m.Label: true}
	var out []string
	add := func(l string) {
		if l != "" && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	add(m.Parent)
	for _, l := range m.Chain {
		add(l)
	}
	for _, files := range [][]File{m.Files, m.ConfigFiles} {
		for _, f := range files {
			for _, p := range f.Parts {
				add(p.Label)
			}
		}
	}
	return out
}

// keepDays keeps the newest backup that finished before now-Days and
// everything after it; without a count rule it expires everything before.
func keepDays(ms []*Manifest, ret Retention, now time.Time, why map[string]string) {
	cutoff := now.Add(-time.Duration(ret.Days) * 24 * time.Hour)
	anchor := 0
	for i, m := range ms {
		if !m.StopTime.After(cutoff) {
			anchor = i
		}
	}
	for i, m := range ms {
		switch {
		case i >= anchor:
			delete(why, m.Label)
		case ret.Full == 0 && ret.Diff == 0:
			why[m.Label] = fmt.Sprintf("not needed to restore to any time in the last %d days", ret.Days)
		}
	}
}

// keepReferenced un-expires every backup a kept backup needs.
func keepReferenced(ms []*Manifest, why map[string]string) {
	for changed := true; changed; {
		changed = false
		for _, m := range ms {
			if _, gone := why[m.Label]; gone {
				continue
			}
			for _, l := range refs(m) {
				if _, gone := why[l]; gone {
					delete(why, l)
					changed = true
				}
			}
		}
	}
}

// WALExpiry is the archived WAL that expire removes.
type WALExpiry struct {
	Objects []WALObject `json:"-"`
	First   string      `json:"first,omitempty"`
	Last    string      `json:"last,omitempty"`
	Count   int         `json:"count"`
	Bytes   int64       `json:"bytes"`
}

// PlanWALExpire picks the WAL no kept backup needs: segments, .partial and
// .backup files below the start segment of the kept backup that starts
// earliest, on its timeline and lower ones. History files always stay;
// without a kept backup nothing goes.
func PlanWALExpire(idx *WALIndex, keep []*Manifest) (WALExpiry, error) {
	var e WALExpiry
	if len(keep) == 0 {
		return e, nil
	}
	var oldest *Manifest
	var startSeg uint64
	for _, m := range keep {
		lsn, err := pg.ParseLSN(m.StartLSN)
		if err != nil {
			return e, fmt.Errorf("backup %s: start LSN: %w", m.Label, err)
		}
		s := uint64(lsn) / uint64(idx.SegSize)
		if oldest == nil || s < startSeg || s == startSeg && m.Timeline < oldest.Timeline {
			oldest, startSeg = m, s
		}
	}
	old := func(o WALObject) bool {
		return o.Name.Timeline <= oldest.Timeline && o.Name.SegNo(idx.SegSize) < startSeg
	}
	for _, segs := range []map[uint32]map[uint64]WALObject{idx.Segments, idx.Partials} {
		for _, bySeg := range segs {
			for _, o := range bySeg {
				if old(o) {
					e.Objects = append(e.Objects, o)
				}
			}
		}
	}
	for _, o := range idx.Other {
		if o.Name.Kind == pg.KindBackupHistory && old(o) {
			e.Objects = append(e.Objects, o)
		}
	}
	e.summarize()
	return e, nil
}

// ExpireOptions change how Expire runs.
type ExpireOptions struct {
	DryRun  bool          // plan only: change nothing, take no lock
	Now     time.Time     // zero: time.Now()
	LockTTL time.Duration // zero: 5 minutes
	Locker  Locker        // nil: the repository's lock object
}

// ExpireResult is what Expire removed, or with DryRun would remove.
type ExpireResult struct {
	Cluster string          `json:"cluster"`
	DryRun  bool            `json:"dry-run"`
	Backups []ExpiredBackup `json:"backups"`
	Kept    []string        `json:"kept"`
	WAL     WALExpiry       `json:"wal"` // of the current generation
	// Earlier is the WAL of generations from before an upgrade that no
	// kept backup needs: all of it once none of their backups is kept.
	Earlier []GenerationExpiry `json:"earlier-generations,omitempty"`
}

// GenerationExpiry is the WAL expire removes from an earlier generation.
type GenerationExpiry struct {
	Generation int       `json:"generation"`
	SystemID   uint64    `json:"system-id,string"`
	WAL        WALExpiry `json:"wal"`
}

// Expire removes the backups and WAL that ret no longer keeps, under the
// cluster's lock. Each backup loses its manifest first (it stops being
// listed), then its other objects; dependents go before what they depend
// on, so an interruption never leaves a listed backup whose parent is gone.
func (r *Repo) Expire(ctx context.Context, c *ClusterInfo, ret Retention, opts ExpireOptions) (res *ExpireResult, err error) {
	if err := ret.validate(); err != nil {
		return nil, err
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.LockTTL <= 0 {
		opts.LockTTL = 5 * time.Minute
	}
	if opts.Locker == nil {
		opts.Locker = r.ObjectLocker()
	}
	var lock HeldLock
	if !opts.DryRun {
		if lock, err = opts.Locker.Lock(ctx, c.Name, "expire", opts.LockTTL); err != nil {
			return nil, err
		}
		defer func() {
			if rerr := lock.Release(context.WithoutCancel(ctx)); rerr != nil && err == nil {
				err = rerr
			}
		}()
	}
	res, plan, err := r.planExpire(ctx, c, ret, opts)
	if err != nil || opts.DryRun {
		return res, err
	}
	for i := len(plan.Remove) - 1; i >= 0; i-- {
		if err := lock.Err(); err != nil {
			return res, fmt.Errorf("expire %s: %w", c.Name, err)
		}
		if err := r.removeBackup(ctx, c.Name, plan.Remove[i].Label); err != nil {
			return res, err
		}
	}
	walSets := []WALExpiry{res.WAL}
	for _, g := range res.Earlier {
		walSets = append(walSets, g.WAL)
	}
	for _, set := range walSets {
		for _, o := range set.Objects {
			if err := lock.Err(); err != nil {
				return res, fmt.Errorf("expire %s: %w", c.Name, err)
			}
			if err := r.store.Remove(ctx, o.Key); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return res, fmt.Errorf("expire WAL %s: %w", o.Name.Name, err)
			}
		}
	}
	return res, nil
}

func (r *Repo) planExpire(ctx context.Context, c *ClusterInfo, ret Retention, opts ExpireOptions) (*ExpireResult, ExpirePlan, error) {
	ms, err := r.Manifests(ctx, c.Name)
	if err != nil {
		return nil, ExpirePlan{}, fmt.Errorf("expire %s: %w", c.Name, err)
	}
	plan, err := PlanExpire(ms, ret, opts.Now)
	if err != nil {
		return nil, plan, err
	}
	res := &ExpireResult{Cluster: c.Name, DryRun: opts.DryRun, Backups: plan.Remove, Kept: []string{}}
	for _, g := range c.Generations() {
		wal, err := r.planWALExpire(ctx, g, g.Gen() == c.Gen(), plan.Keep)
		if err != nil {
			return nil, plan, fmt.Errorf("expire %s: WAL: %w", c.Name, err)
		}
		if g.Gen() == c.Gen() {
			res.WAL = wal
		} else if wal.Count > 0 {
			res.Earlier = append(res.Earlier, GenerationExpiry{Generation: g.Gen(), SystemID: g.SystemID, WAL: wal})
		}
	}
	if res.Backups == nil {
		res.Backups = []ExpiredBackup{}
	}
	for _, m := range plan.Keep {
		res.Kept = append(res.Kept, m.Label)
	}
	return res, plan, nil
}

// planWALExpire plans the WAL expiry of generation g, with the backups of
// keep that are of its system. The WAL of an earlier generation (not
// current) none of whose backups is kept goes whole, history files too:
// nothing can recover through it any more.
func (r *Repo) planWALExpire(ctx context.Context, g *ClusterInfo, current bool, keep []*Manifest) (WALExpiry, error) {
	var mine []*Manifest
	for _, m := range keep {
		if m.SystemID == g.SystemID {
			mine = append(mine, m)
		}
	}
	if len(mine) > 0 || current {
		idx, err := r.IndexWAL(ctx, g)
		if err != nil {
			return WALExpiry{}, err
		}
		return PlanWALExpire(idx, mine)
	}
	var e WALExpiry
	err := r.store.List(ctx, g.WALPrefix(), func(info storage.ObjectInfo) error {
		w, err := pg.ParseWALName(WALNameOfKey(info.Key))
		if err != nil {
			return nil // not WAL: verify reports it
		}
		e.Objects = append(e.Objects, WALObject{Key: info.Key, Name: w, Size: info.Size, ModTime: info.ModTime})
		return nil
	})
	if err != nil {
		return e, fmt.Errorf("list WAL of %s: %w", g.Describe(), err)
	}
	e.summarize()
	return e, nil
}

// summarize sorts e's objects and fills in its counts and range.
func (e *WALExpiry) summarize() {
	sort.Slice(e.Objects, func(i, j int) bool { return e.Objects[i].Name.Name < e.Objects[j].Name.Name })
	e.Count, e.Bytes = 0, 0
	for _, o := range e.Objects {
		e.Count++
		e.Bytes += o.Size
	}
	if e.Count > 0 {
		e.First, e.Last = e.Objects[0].Name.Name, e.Objects[e.Count-1].Name.Name
	}
}

// removeBackup removes the manifest of label, then every other object of it.
func (r *Repo) removeBackup(ctx context.Context, cluster, label string) error {
	mkey := ManifestKey(cluster, label)
	if err := r.store.Remove(ctx, mkey); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("expire backup %s: %w", label, err)
	}
	prefix := BackupPrefix(cluster) + label + "/"
	var keys []string
	err := r.store.List(ctx, prefix, func(info storage.ObjectInfo) error {
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("expire backup %s: %w", label, err)
	}
	for _, k := range keys {
		if err := r.store.Remove(ctx, k); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("expire backup %s: %s: %w", label, strings.TrimPrefix(k, prefix), err)
		}
	}
	return nil
}
