package asyncpush

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/pgkeep/pgkeep/internal/detach"
	"github.com/pgkeep/pgkeep/repo"
)

// session is the state of one running uploader.
type session struct {
	u          *Uploader
	s          spoolDir
	lock       *os.File
	processMax int

	repo    *repo.Repo
	cluster *repo.ClusterInfo
	opening retryState // of Open

	busy      map[string]bool        // uploads in flight
	retry     map[string]*retryState // files whose last upload failed
	skipAhead map[string]time.Time   // look-ahead failed: leave to the foreground until then
	reread    bool                   // read the registration again once nothing is in flight
	rereadFor map[string]bool        // files that made it read again: they fail for good next time
	results   chan jobResult
	wg        sync.WaitGroup

	idleSince time.Time // the spool has been empty since; zero: busy
	housekept time.Time
}

// retryState counts the failed attempts in a row of one file.
type retryState struct {
	attempts  int
	since     time.Time // the first failure in a row
	next      time.Time // no attempt before
	permanent bool
}

func newSession(u *Uploader, s spoolDir, lock *os.File) *session {
	w := &session{
		u: u, s: s, lock: lock, processMax: max(u.ProcessMax, 1),
		busy: map[string]bool{}, retry: map[string]*retryState{}, skipAhead: map[string]time.Time{},
		rereadFor: map[string]bool{},
	}
	w.results = make(chan jobResult, w.processMax) // a job never waits to report
	return w
}

func (w *session) now() time.Time {
	if w.u.Now != nil {
		return w.u.Now()
	}
	return time.Now()
}

// close waits for the uploads in flight and releases the lock.
func (w *session) close() {
	w.wg.Wait()
	if w.lock != nil {
		w.lock.Close()
	}
}

// step reads the spool and starts what can be started; it reports whether
// there is nothing to do (nothing queued, nothing in flight). An error
// means the spool directory or its lock file is gone: this uploader must
// stop.
func (w *session) step(ctx context.Context) (idle bool, err error) {
	now := w.now()
	if w.reread && len(w.busy) == 0 {
		w.repo, w.reread = nil, false // read the registration again (see finish)
	}
	if w.repo == nil && !now.Before(w.opening.next) {
		w.openRepo(ctx, now)
	}
	l, err := w.s.list()
	if errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err != nil {
		w.u.Log.Error("read the spool", "err", err)
		return false, nil
	}
	if !detach.LockStillOurs(w.lock, w.s.path(lockFile)) {
		return false, fmt.Errorf("%s was removed or replaced: another uploader may be running", w.s.path(lockFile))
	}
	for _, t := range w.s.removeStaleTemps(l) {
		w.u.Log.Info("removed a partial copy of a process that is gone", "file", t)
	}
	w.forget(l)
	if w.repo != nil && !w.reread {
		w.dispatch(ctx, l, now)
		w.lookAhead(ctx, l, now)
	}
	if now.Sub(w.housekept) >= housekeepEvery {
		w.housekeep(l, now)
	}
	if len(l.files) > 0 || len(w.busy) > 0 {
		w.idleSince = time.Time{}
		return false, nil
	}
	if w.idleSince.IsZero() {
		w.idleSince = now
	}
	return true, nil
}

// openRepo opens the repository, recording failures as error/uploader.
func (w *session) openRepo(ctx context.Context, now time.Time) {
	octx, cancel := context.WithTimeout(ctx, openTimeout)
	r, c, err := w.u.Open(octx)
	cancel()
	if err != nil {
		w.failed(uploaderName, &w.opening, err, now)
		return
	}
	w.repo, w.cluster, w.opening = r, c, retryState{}
	if err := w.s.cacheCluster(c); err != nil {
		w.u.Log.Warn("cannot cache the cluster's registration", "err", err)
	}
	if err := w.s.removeMarker(errorDir, uploaderName); err != nil {
		w.u.Log.Warn("cannot clear the error marker", "err", err)
	}
}

// dispatch starts uploads of queued files, oldest first.
func (w *session) dispatch(ctx context.Context, l listing, now time.Time) {
	for _, q := range l.files {
		if len(w.busy) >= w.processMax {
			return
		}
		if w.busy[q.name] {
			continue
		}
		if st := w.retry[q.name]; st != nil && now.Before(st.next) && !w.unblocked(q.name, st) {
			continue
		}
		w.start(ctx, q.name, false)
	}
}

// unblocked reports whether someone removed the error marker of a
// permanent failure: the signal to retry at once.
func (w *session) unblocked(name string, st *retryState) bool {
	if !st.permanent {
		return false
	}
	_, err := os.Stat(w.s.path(errorDir, name))
	return os.IsNotExist(err)
}

// forget drops the retry state of files no longer queued.
func (w *session) forget(l listing) {
	for name := range w.retry {
		if !l.has(name) && !w.busy[name] {
			delete(w.retry, name)
		}
	}
}
