package asyncpush

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/pgkeep/pgkeep/internal/detach"
	"github.com/pgkeep/pgkeep/repo"
)

// OpenFunc opens the repository and reads the cluster's registration.
type OpenFunc func(ctx context.Context) (*repo.Repo, *repo.ClusterInfo, error)

// Uploader moves spooled WAL into the repository, ProcessMax files at a
// time, with walarchive.Push (so an upload is idempotent and a conflict
// changes nothing). A file leaves the spool only once it is durable in the
// repository. One uploader runs per spool, guarded by a lock on
// uploader.lock; it exits once the spool has been empty for Idle.
type Uploader struct {
	Dir        string        // the cluster's spool directory (see Dir)
	WALDir     string        // the server's pg_wal, to look ahead at archive_status/*.ready; "": no look-ahead
	ProcessMax int           // parallel uploads
	Idle       time.Duration // exit after the spool has been empty this long (0: at once)
	Open       OpenFunc
	Log        *slog.Logger
	Now        func() time.Time // the clock; nil: time.Now
	Poll       time.Duration    // how often the spool is read; 0: 100ms
}

// Timing of the uploader.
const (
	defaultPoll    = 100 * time.Millisecond
	recordAfter    = 3 // failed attempts in a row before a failure is recorded in the spool
	maxBackoff     = 15 * time.Second
	permanentRetry = time.Minute // retry of a conflict (at once when its error marker is removed)
	uploadTimeout  = 10 * time.Minute
	openTimeout    = time.Minute
	doneKeep       = time.Hour // how long done markers make repeated pushes free
	housekeepEvery = time.Minute
)

// Run uploads until the spool has been empty for Idle or ctx ends. It
// returns nil at once when another uploader holds the spool.
func (u *Uploader) Run(ctx context.Context) error {
	s, err := openSpoolDir(u.Dir)
	if err != nil {
		return err
	}
	lock, ok, err := detach.TryLock(s.path(lockFile))
	if err != nil {
		return err
	}
	if !ok {
		u.Log.Debug("another uploader is running", "spool", s.dir)
		return nil
	}
	w := newSession(u, s, lock)
	defer w.close()
	if err := detach.WritePID(lock); err != nil {
		u.Log.Warn("cannot write the pid into the lock file", "err", err)
	}
	// Look-ahead markers left by an uploader that died: no push is to wait for them.
	w.prune(aheadDir, func(string, time.Time) bool { return true })
	u.Log.Info("async uploader started", "spool", s.dir, "process-max", w.processMax, "wal-dir", u.WALDir)
	poll := u.Poll
	if poll <= 0 {
		poll = defaultPoll
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		idle, err := w.step(ctx)
		if err != nil {
			return fmt.Errorf("async uploader: %w", err)
		}
		if idle && w.now().Sub(w.idleSince) >= u.Idle && w.release() {
			u.Log.Info("async uploader exits: the spool is empty", "spool", s.dir)
			return nil
		}
		select {
		case r := <-w.results:
			w.finish(r)
		case <-tick.C:
		case <-ctx.Done():
			u.Log.Info("async uploader stopped", "spool", s.dir, "cause", context.Cause(ctx))
			return nil
		}
	}
}
