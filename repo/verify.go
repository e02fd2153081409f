package repo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo/storage"
)

// Severities of verify's findings.
const (
	SeverityError  = "error"  // data damaged or missing: a restore can fail
	SeverityNotice = "notice" // leftovers or unknown objects: nothing restorable is affected
)

// Problem is one finding of Verify.
type Problem struct {
	Severity string `json:"severity"`
	Label    string `json:"label,omitempty"` // the backup concerned
	File     string `json:"file,omitempty"`  // the backup's file concerned
	Key      string `json:"key,omitempty"`   // the object concerned
	Message  string `json:"message"`
}

func (p Problem) String() string {
	s := p.Severity + ": "
	if p.Label != "" {
		s += "backup " + p.Label + ": "
	}
	if p.File != "" {
		s += "file " + p.File + ": "
	}
	return s + p.Message
}

// VerifyReport is what Verify read and found.
type VerifyReport struct {
	Cluster    string    `json:"cluster"`
	Backups    int       `json:"backups"`
	Files      int       `json:"files"`
	Parts      int       `json:"parts"` // distinct parts read
	WALObjects int       `json:"wal-objects"`
	Bytes      int64     `json:"bytes"` // stored bytes read
	Errors     int       `json:"errors"`
	Notices    int       `json:"notices"`
	Problems   []Problem `json:"problems"`
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	Workers int // parallel object reads; 0: 4
}

// Verify re-reads and checks everything the repository holds for cluster
// c: every manifest, every part of every file of every backup (against the
// manifest's digest), every WAL object, each backup's own WAL, the WAL
// chain from the oldest backup's start to the newest segment of each
// timeline, and objects that belong to nothing. It reports every problem
// rather than stopping at the first; the error is only for failures to
// list the repository or a cancelled ctx.
func (r *Repo) Verify(ctx context.Context, c *ClusterInfo, opts VerifyOptions) (*VerifyReport, error) {
	v := &verifier{r: r, c: c, workers: opts.Workers, rep: &VerifyReport{Cluster: c.Name, Problems: []Problem{}},
		bundles: map[string]map[int]int64{}, referenced: map[string]map[int]bool{}, gens: c.Generations()}
	if v.workers <= 0 {
		v.workers = 4
	}
	if err := v.inventory(ctx); err != nil {
		return nil, fmt.Errorf("verify %s: %w", c.Name, err)
	}
	ms := v.manifests(ctx)
	v.parts(ctx, ms)
	v.walObjects(ctx)
	v.chains(ctx, ms)
	v.strays(ms)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("verify %s: %w", c.Name, err)
	}
	for _, p := range v.rep.Problems {
		if p.Severity == SeverityError {
			v.rep.Errors++
		} else {
			v.rep.Notices++
		}
	}
	return v.rep, nil
}

type verifier struct {
	r          *Repo
	c          *ClusterInfo
	workers    int
	rep        *VerifyReport
	labels     []string                 // labels with a manifest object
	bundles    map[string]map[int]int64 // label -> bundle number -> stored size
	referenced map[string]map[int]bool  // bundles some readable manifest uses
	gens       []*ClusterInfo           // the cluster's generations, oldest first
	wal        []walObject
	unknown    []string
}

func (v *verifier) add(p Problem) { v.rep.Problems = append(v.rep.Problems, p) }

// clusterFiles are the objects directly under <cluster>/ that pgkeep writes.
var clusterFiles = []string{"cluster.json", "catalog", "lock", "lock.takeover", verifyRecordFile}

// verifyRecordFile is where pgkeep server records its last scheduled verify.
const verifyRecordFile = "server/verify.json"

// VerifyRecordKey is the object in which pgkeep server records its last
// scheduled verify, so that every server of the cluster knows when it ran.
func VerifyRecordKey(cluster string) string { return cluster + "/" + verifyRecordFile }

// inventory lists the cluster's objects and sorts them by kind.
func (v *verifier) inventory(ctx context.Context) error {
	prefix := v.c.Name + "/"
	return v.r.store.List(ctx, prefix, func(info storage.ObjectInfo) error {
		rest := strings.TrimPrefix(info.Key, prefix)
		if strings.HasPrefix(rest, "wal") {
			if g := v.walGeneration(info.Key); g != nil {
				v.wal = append(v.wal, walObject{info, g})
				return nil
			}
		}
		switch {
		case slices.Contains(clusterFiles, rest):
		case strings.HasPrefix(rest, "backup/") && v.backupObject(info):
		default:
			v.unknown = append(v.unknown, info.Key)
		}
		return nil
	})
}

// walObject is a WAL object of generation gen.
type walObject struct {
	storage.ObjectInfo
	gen *ClusterInfo
}

// walGeneration returns the generation whose WAL object key is, or nil
// when it is none's.
func (v *verifier) walGeneration(key string) *ClusterInfo {
	name := WALNameOfKey(key)
	if _, err := pg.ParseWALName(name); err != nil {
		return nil
	}
	for _, g := range v.gens {
		if g.WALKey(name) == key {
			return g
		}
	}
	return nil
}

func (v *verifier) backupObject(info storage.ObjectInfo) bool {
	label, rest, _ := strings.Cut(strings.TrimPrefix(info.Key, BackupPrefix(v.c.Name)), "/")
	if !ValidLabel(label) {
		return false
	}
	if rest == "manifest" {
		v.labels = append(v.labels, label)
		return true
	}
	num, ok := strings.CutPrefix(rest, "bundle/")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || BundleKey(v.c.Name, label, n) != info.Key {
		return false
	}
	if v.bundles[label] == nil {
		v.bundles[label] = map[int]int64{}
	}
	v.bundles[label][n] = info.Size
	return true
}

// manifests reads every manifest and checks its references.
func (v *verifier) manifests(ctx context.Context) []*Manifest {
	sort.Strings(v.labels)
	read := make([]*Manifest, len(v.labels))
	errs := make([]error, len(v.labels))
	parallel(ctx, v.workers, len(v.labels), func(i int) {
		read[i], errs[i] = v.r.ReadManifest(ctx, v.c.Name, v.labels[i])
	})
	var ms []*Manifest
	for i, m := range read {
		label, key := v.labels[i], ManifestKey(v.c.Name, v.labels[i])
		switch {
		case errs[i] != nil:
			v.add(Problem{Severity: SeverityError, Label: label, Key: key, Message: errs[i].Error()})
		case m.Label != label || m.Cluster != v.c.Name:
			v.add(Problem{Severity: SeverityError, Label: label, Key: key,
				Message: fmt.Sprintf("%s describes backup %s of cluster %s", key, m.Label, m.Cluster)})
		default:
			ms = append(ms, m)
		}
	}
	for _, m := range ms {
		for _, l := range refs(m) {
			if !slices.Contains(v.labels, l) {
				v.add(Problem{Severity: SeverityError, Label: m.Label,
					Message: fmt.Sprintf("depends on backup %s, which has no manifest", l)})
			}
		}
	}
	v.rep.Backups = len(ms)
	return ms
}

// partUse is a file of a backup that holds a part.
type partUse struct{ label, file string }

// parts reads every distinct part the manifests reference, in parallel.
func (v *verifier) parts(ctx context.Context, ms []*Manifest) {
	// A part with Offset 0 and no XXH3 stands for every file sharing it;
	// the sum a manifest records (those of earlier versions have none) is
	// checked when the part is read. Manifests that disagree on it have the
	// part read once per sum.
	uses := map[Part][]partUse{}
	quick := map[Part]QuickSum{}
	for _, m := range ms {
		for _, f := range slices.Concat(m.Files, m.ConfigFiles) {
			v.rep.Files++
			for _, p := range f.Parts {
				p.Offset = 0
				q := p.Quick
				p.Quick = QuickSum{}
				if have, ok := quick[p]; !ok || have.IsZero() {
					quick[p] = q
				} else if !q.IsZero() && q != have {
					p.Quick = q
				}
				uses[p] = append(uses[p], partUse{m.Label, f.Path})
			}
		}
	}
	missing := map[string][]partUse{} // bundle key -> uses
	var jobs []Part
	for p := range uses {
		if v.referenced[p.Label] == nil {
			v.referenced[p.Label] = map[int]bool{}
		}
		v.referenced[p.Label][p.Bundle] = true
		if _, ok := v.bundles[p.Label][p.Bundle]; !ok {
			key := BundleKey(v.c.Name, p.Label, p.Bundle)
			missing[key] = append(missing[key], uses[p]...)
			continue
		}
		jobs = append(jobs, p)
	}
	sort.Slice(jobs, func(i, j int) bool {
		a, b := jobs[i], jobs[j]
		return a.Label < b.Label || a.Label == b.Label && (a.Bundle < b.Bundle || a.Bundle == b.Bundle && a.BOffset < b.BOffset)
	})
	errs := make([]error, len(jobs))
	parallel(ctx, v.workers, len(jobs), func(i int) {
		p := jobs[i]
		if p.Quick.IsZero() {
			p.Quick = quick[p]
		}
		errs[i] = v.r.ReadPart(ctx, v.c.Name, p, io.Discard)
	})
	for i, p := range jobs {
		v.rep.Parts++
		v.rep.Bytes += p.BLength
		if errs[i] == nil {
			continue
		}
		for _, u := range uses[p] {
			v.add(Problem{Severity: SeverityError, Label: u.label, File: u.file,
				Key: BundleKey(v.c.Name, p.Label, p.Bundle), Message: errs[i].Error()})
		}
	}
	for _, key := range slices.Sorted(maps.Keys(missing)) {
		v.missingBundle(key, missing[key])
	}
}

// missingBundle reports, per backup, the files a missing bundle held.
func (v *verifier) missingBundle(key string, uses []partUse) {
	files := map[string][]string{}
	for _, u := range uses {
		if !slices.Contains(files[u.label], u.file) {
			files[u.label] = append(files[u.label], u.file)
		}
	}
	for _, label := range slices.Sorted(maps.Keys(files)) {
		fs := files[label]
		sort.Strings(fs)
		more := ""
		if len(fs) > 3 {
			fs, more = fs[:3], ", ..."
		}
		v.add(Problem{Severity: SeverityError, Label: label, Key: key,
			Message: fmt.Sprintf("bundle %s is missing: %d files cannot be restored (%s%s)",
				key, len(files[label]), strings.Join(fs, ", "), more)})
	}
}

// walObjects reads and verifies every WAL object, in parallel.
func (v *verifier) walObjects(ctx context.Context) {
	errs := make([]error, len(v.wal))
	parallel(ctx, v.workers, len(v.wal), func(i int) { errs[i] = v.checkWAL(ctx, v.wal[i].gen, v.wal[i].Key) })
	for i, o := range v.wal {
		v.rep.WALObjects++
		v.rep.Bytes += o.Size
		if errs[i] != nil {
			v.add(Problem{Severity: SeverityError, Key: o.Key, Message: errs[i].Error()})
		}
	}
}

// checkWAL verifies one WAL object's checksum and that its content fits
// its name: a whole segment of generation g, or a parsable history file.
func (v *verifier) checkWAL(ctx context.Context, g *ClusterInfo, key string) error {
	name, _ := pg.ParseWALName(WALNameOfKey(key))
	var n countingWriter
	var hist bytes.Buffer
	w := io.Writer(&n)
	if name.Kind == pg.KindHistory {
		w = io.MultiWriter(&n, &hist)
	}
	if _, err := v.r.ReadObject(ctx, key, w); err != nil {
		return err
	}
	seg := g.WALSegmentSize
	switch name.Kind {
	case pg.KindSegment:
		if int64(n) != seg {
			return fmt.Errorf("%s holds %d bytes, a WAL segment of cluster %s has %d", key, n, g.Name, seg)
		}
	case pg.KindPartial:
		if int64(n) > seg {
			return fmt.Errorf("%s holds %d bytes, more than a WAL segment (%d)", key, n, seg)
		}
	case pg.KindHistory:
		if _, err := ParseHistory(hist.Bytes()); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	return nil
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

// chains checks each backup's own WAL and the gaps in every timeline, in
// the WAL of each generation of the cluster.
func (v *verifier) chains(ctx context.Context, ms []*Manifest) {
	a, err := v.r.IndexArchive(ctx, v.c)
	if err != nil {
		v.add(Problem{Severity: SeverityError, Message: "cannot index the WAL archive: " + err.Error()})
		return
	}
	for _, m := range ms {
		if a.Of(m.SystemID) == nil {
			v.add(Problem{Severity: SeverityError, Label: m.Label,
				Message: fmt.Sprintf("backup of system identifier %d, which is none of the cluster's (%s)", m.SystemID, v.c.Describe())})
		}
	}
	for i, idx := range a {
		where := ""
		if len(a) > 1 {
			where = v.gens[i].Describe() + ": "
		}
		from, haveFrom := uint64(0), false
		for _, m := range ms {
			if m.SystemID != idx.SystemID {
				continue
			}
			if w := idx.Window(m, m.Timeline); !w.Restorable {
				v.add(Problem{Severity: SeverityError, Label: m.Label,
					Message: fmt.Sprintf("not restorable: its WAL %s..%s: %s", m.StartWAL, m.StopWAL, w.Problem)})
			}
			if lsn, err := pg.ParseLSN(m.StartLSN); err == nil && (!haveFrom || uint64(lsn)/uint64(idx.SegSize) < from) {
				from, haveFrom = uint64(lsn)/uint64(idx.SegSize), true
			}
		}
		for _, g := range WALGaps(idx, from, haveFrom) {
			v.add(Problem{Severity: SeverityError, Message: where + g.String()})
		}
	}
}

// strays reports objects that belong to no backup and unknown objects.
func (v *verifier) strays(ms []*Manifest) {
	readable := map[string]bool{}
	for _, m := range ms {
		readable[m.Label] = true
	}
	for _, label := range slices.Sorted(maps.Keys(v.bundles)) {
		bundles := v.bundles[label]
		if !slices.Contains(v.labels, label) {
			var size int64
			for _, s := range bundles {
				size += s
			}
			v.add(Problem{Severity: SeverityNotice, Label: label, Key: BackupPrefix(v.c.Name) + label + "/",
				Message: fmt.Sprintf("%d bundles (%d bytes) without a manifest: left by an interrupted backup, or one still running", len(bundles), size)})
			continue
		}
		for _, n := range slices.Sorted(maps.Keys(bundles)) {
			if readable[label] && !v.referenced[label][n] {
				key := BundleKey(v.c.Name, label, n)
				v.add(Problem{Severity: SeverityNotice, Label: label, Key: key, Message: key + " is not referenced by any manifest"})
			}
		}
	}
	for _, key := range v.unknown {
		v.add(Problem{Severity: SeverityNotice, Key: key, Message: "unknown object " + key})
	}
}

// WALGap is a run of segments missing from a timeline.
type WALGap struct {
	Timeline    uint32
	First, Last string // segment names
	Count       uint64
}

func (g WALGap) String() string {
	unit := "segments"
	if g.Count == 1 {
		unit = "segment"
	}
	return fmt.Sprintf("WAL gap on timeline %d: %s..%s missing (%d %s)", g.Timeline, g.First, g.Last, g.Count, unit)
}

// WALGaps finds the segments missing on each timeline between the start of
// its WAL that matters and its newest segment. What matters starts at
// segment from (the oldest backup's start) when haveFrom, or at the
// timeline's first archived segment otherwise, and never before the
// timeline began (per its history file).
func WALGaps(idx *WALIndex, from uint64, haveFrom bool) []WALGap {
	var gaps []WALGap
	for _, tli := range slices.Sorted(maps.Keys(idx.Segments)) {
		segs := idx.Segments[tli]
		nos := slices.Sorted(maps.Keys(segs))
		if len(nos) == 0 {
			continue
		}
		lo, hi := nos[0], nos[len(nos)-1]
		if haveFrom {
			lo = from
			if begin, ok := idx.timelineBegin(tli); ok {
				lo = max(lo, uint64(begin)/uint64(idx.SegSize))
			} else if tli > 1 {
				lo = max(lo, nos[0])
			}
		}
		for no := lo; no <= hi; no++ {
			if _, ok := segs[no]; ok {
				continue
			}
			end := no
			for end+1 <= hi && !has(segs, end+1) {
				end++
			}
			gaps = append(gaps, WALGap{Timeline: tli, Count: end - no + 1,
				First: pg.SegmentName(tli, no, idx.SegSize), Last: pg.SegmentName(tli, end, idx.SegSize)})
			no = end
		}
	}
	return gaps
}

func has(segs map[uint64]WALObject, no uint64) bool { _, ok := segs[no]; return ok }

// timelineBegin is where timeline tli branched off its parent, per its
// history file.
func (idx *WALIndex) timelineBegin(tli uint32) (pg.LSN, bool) {
	h := idx.Histories[tli]
	if len(h) == 0 {
		return 0, false
	}
	return h[len(h)-1].Switch, true
}

// parallel calls fn(i) for every i in [0, n) on up to workers goroutines
// and stops handing out work once ctx is done.
func parallel(ctx context.Context, workers, n int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
}

// TimelineWindow is the recovery window of one timeline: from the end of
// the oldest backup whose recovery reaches the timeline to the furthest
// point any backup's recovery reaches on it.
type TimelineWindow struct {
	Timeline  uint32    `json:"timeline"`
	Oldest    string    `json:"oldest"` // the backup the window starts with
	StartTime time.Time `json:"start-time"`
	StartLSN  pg.LSN    `json:"start-lsn"`
	EndTime   time.Time `json:"end-time"`
	EndLSN    pg.LSN    `json:"end-lsn"`
	// EndIsLastCommit: EndTime is the last commit's time, not an archive time.
	EndIsLastCommit bool `json:"end-is-last-commit"`
}

// RecoveryWindows returns the window of every timeline, of the archive or
// of a backup, that some restorable backup of ms (oldest first) reaches.
// Backups of another system than idx's (another generation) are left out.
func RecoveryWindows(idx *WALIndex, all []*Manifest) []TimelineWindow {
	var ms []*Manifest
	for _, m := range all {
		if idx.system(m) {
			ms = append(ms, m)
		}
	}
	tlis := map[uint32]bool{}
	for t := range idx.Segments {
		tlis[t] = true
	}
	for t := range idx.Histories {
		tlis[t] = true
	}
	for _, m := range ms {
		tlis[m.Timeline] = true
	}
	var out []TimelineWindow
	for _, t := range slices.Sorted(maps.Keys(tlis)) {
		var tw *TimelineWindow
		for _, m := range ms {
			w := idx.Window(m, t)
			if !w.Restorable {
				continue
			}
			if begin, ok := idx.timelineBegin(t); ok && m.Timeline != t && w.EndLSN <= begin {
				continue // its WAL ends before the timeline began
			}
			if tw == nil {
				tw = &TimelineWindow{Timeline: t, Oldest: m.Label, StartTime: w.StartTime, StartLSN: w.StartLSN}
			}
			if w.EndLSN > tw.EndLSN {
				tw.EndLSN, tw.EndTime, tw.EndIsLastCommit = w.EndLSN, w.EndTime, w.EndIsLastCommit
			}
		}
		if tw != nil {
			out = append(out, *tw)
		}
	}
	return out
}
