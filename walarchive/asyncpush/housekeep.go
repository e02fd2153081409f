package asyncpush

import (
	"os"
	"time"

	"github.com/pgkeep/pgkeep/internal/detach"
)

// release gives up the lock before the uploader exits. A push that saw the
// lock held just before it was released did not start an uploader and
// relies on this one: so the spool is read again after the release, and
// if WAL arrived, the uploader takes the lock back and goes on (unless a
// new uploader has it). It reports whether to exit.
func (w *session) release() bool {
	w.lock.Close()
	w.lock = nil
	if l, err := w.s.list(); err == nil && len(l.files) == 0 {
		return true
	}
	lock, ok, err := detach.TryLock(w.s.path(lockFile))
	if err != nil || !ok {
		return true
	}
	if err := detach.WritePID(lock); err != nil {
		w.u.Log.Warn("cannot write the pid into the lock file", "err", err)
	}
	w.lock, w.idleSince = lock, time.Time{}
	return false
}

// housekeep removes done markers older than doneKeep, error markers of
// files no longer queued (removed by an operator), and expired look-ahead
// skips.
func (w *session) housekeep(l listing, now time.Time) {
	w.housekept = now
	w.prune(doneDir, func(name string, mod time.Time) bool { return now.Sub(mod) > doneKeep })
	w.prune(errorDir, func(name string, _ time.Time) bool {
		return name != uploaderName && !l.has(name) && !w.busy[name]
	})
	for name, until := range w.skipAhead {
		if now.After(until) {
			delete(w.skipAhead, name)
		}
	}
}

// prune removes the markers in dir for which drop says so, and leftover
// temporary markers of processes that are gone.
func (w *session) prune(dir string, drop func(name string, mod time.Time) bool) {
	entries, err := os.ReadDir(w.s.path(dir))
	if err != nil {
		w.u.Log.Warn("read the spool", "err", err)
		return
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		_, tmp := detach.TempOwner(e.Name())
		if (tmp && detach.Stale(e.Name())) || (!tmp && drop(e.Name(), fi.ModTime())) {
			os.Remove(w.s.path(dir, e.Name()))
		}
	}
}
