package restore

import (
	"strings"

	"github.com/pgkeep/pgkeep/repo"
)

// Plan is what a restore will do: which backup, towards which target,
// within which window.
type Plan struct {
	Manifest *repo.Manifest
	Window   repo.BackupWindow
	Target   Target
}

// Choose picks the backup to restore from manifests (oldest first) and the
// archive idx. With set, that backup is used; otherwise the newest backup
// whose recovery window contains a time or LSN target, or the newest
// restorable backup for other targets. A target outside every window and a
// backup that cannot become consistent are refused, with the windows or
// the problem in the message. Nothing is read or written: Choose is the
// decision only.
func Choose(manifests []*repo.Manifest, idx windower, set string, t Target) (*Plan, error) {
	if len(manifests) == 0 {
		return nil, kindf(repo.ErrNoBackup, "the repository holds no backup of this cluster")
	}
	if set != "" {
		return chooseSet(manifests, idx, set, t)
	}
	windows := make([]repo.BackupWindow, len(manifests))
	for i := len(manifests) - 1; i >= 0; i-- {
		m := manifests[i]
		w := idx.Window(m, t.timelineFor(m.Timeline))
		if w.Restorable && (!t.hasPoint() || w.Contains(t.Time, t.LSN)) {
			return &Plan{Manifest: m, Window: w, Target: t}, nil
		}
		windows[i] = w
	}
	return nil, refusal(windows, t)
}

// windower computes backup windows: a *repo.WALIndex (one generation) or a
// repo.Archive (every generation, each backup in its own).
type windower interface {
	Window(m *repo.Manifest, to uint32) repo.BackupWindow
}

func chooseSet(manifests []*repo.Manifest, idx windower, set string, t Target) (*Plan, error) {
	var m *repo.Manifest
	labels := make([]string, len(manifests))
	for i, mm := range manifests {
		labels[i] = mm.Label
		if mm.Label == set {
			m = mm
		}
	}
	if m == nil {
		return nil, kindf(repo.ErrNoBackup, "backup %s not found; backups: %s", set, strings.Join(labels, ", "))
	}
	w := idx.Window(m, t.timelineFor(m.Timeline))
	if !w.Restorable {
		return nil, kindf(ErrNotRestorable, "backup %s cannot be restored: %s", m.Label, w.Problem)
	}
	if t.hasPoint() && !w.Contains(t.Time, t.LSN) {
		return nil, refusal([]repo.BackupWindow{w}, t)
	}
	return &Plan{Manifest: m, Window: w, Target: t}, nil
}

// refusal explains why no window fits: the restorable windows when there
// are some, else every backup's problem.
func refusal(windows []repo.BackupWindow, t Target) error {
	var ok, problems []string
	for _, w := range windows {
		if w.Restorable {
			ok = append(ok, w.String())
		} else {
			problems = append(problems, w.Label+": "+w.Problem)
		}
	}
	if len(ok) == 0 {
		return kindf(ErrNotRestorable, "no backup can be restored: %s", strings.Join(problems, "; "))
	}
	return kindf(ErrOutsideWindow, "%s is outside the recovery window: %s", t, strings.Join(ok, "; "))
}
