package asyncget

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/pgkeep/pgkeep/internal/detach"
	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/walarchive"
)

// OpenFunc opens the repository and reads the cluster's registration.
type OpenFunc func(ctx context.Context) (*repo.Repo, *repo.ClusterInfo, error)

// Prefetcher keeps the segments after the one recovery asked for last
// (the want file) in the spool: QueueMax bytes of them, on that segment's
// timeline, ProcessMax downloads at a time, with walarchive.Prefetch (so
// each is verified and fsynced before it appears under its name). It
// removes what recovery has gone past. One prefetcher runs per spool,
// guarded by a lock on prefetch.lock; it exits once archive-get has not
// been called for Idle, emptying the spool.
type Prefetcher struct {
	Dir        string // the spool (see Dir)
	SystemID   uint64 // of the recovering data directory: another cluster is not prefetched from
	QueueMax   int64  // bytes of segments to hold ahead of recovery (at least one segment)
	ProcessMax int    // parallel downloads
	Idle       time.Duration
	Open       OpenFunc
	Log        *slog.Logger
	Poll       time.Duration // how often the want file and the spool are read; 0: 20ms
}

// Timing of the prefetcher.
const (
	defaultPoll  = 20 * time.Millisecond
	notFoundWait = time.Second // before asking again for a segment that was not there
	failedWait   = 5 * time.Second
	maxOpenWait  = 15 * time.Second
	openTimeout  = time.Minute
	fetchTimeout = 10 * time.Minute
)

// fetched is the outcome of one download.
type fetched struct {
	name string
	err  error
}

// attempt is the last failed download of a segment.
type attempt struct {
	at       time.Time
	notFound bool
}

// Run prefetches until archive-get has not been called for Idle, or ctx
// ends. It returns nil at once when another prefetcher holds the spool,
// and an error when the repository's cluster is not the data directory's.
func (p *Prefetcher) Run(ctx context.Context) error {
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return fmt.Errorf("prefetch: %w", err)
	}
	lock, ok, err := detach.TryLock(LockPath(p.Dir))
	if err != nil {
		return fmt.Errorf("prefetch: %w", err)
	}
	if !ok {
		p.Log.Debug("another prefetcher is running", "spool", p.Dir)
		return nil
	}
	defer lock.Close()
	if err := detach.WritePID(lock); err != nil {
		p.Log.Warn("cannot write the pid into the lock file", "err", err)
	}
	defer p.empty()
	r, c, err := p.open(ctx)
	if err != nil || r == nil {
		return err
	}
	if g := c.ForSystem(p.SystemID); g != nil {
		c = g // a generation from before a pg_upgrade: its own WAL
	} else {
		return fmt.Errorf("prefetch: the repository's cluster %s has system identifier %d, the data directory %d: nothing is prefetched",
			c.Name, c.SystemID, p.SystemID)
	}
	ahead := int(max(1, p.QueueMax/c.WALSegmentSize))
	p.Log.Info("prefetcher started", "spool", p.Dir, "segments-ahead", ahead, "process-max", max(p.ProcessMax, 1))
	s := &session{p: p, r: r, c: c, ahead: ahead, lock: lock,
		busy: map[string]bool{}, failed: map[string]attempt{}, results: make(chan fetched, max(p.ProcessMax, 1))}
	defer s.wait()
	return s.run(ctx)
}

// open opens the repository, retrying with backoff while archive-get is
// still being called. r is nil when it gave up because recovery stopped
// asking.
func (p *Prefetcher) open(ctx context.Context) (*repo.Repo, *repo.ClusterInfo, error) {
	wait := time.Second
	for {
		octx, cancel := context.WithTimeout(ctx, openTimeout)
		r, c, err := p.Open(octx)
		cancel()
		if err == nil {
			return r, c, nil
		}
		p.Log.Warn("prefetch: cannot open the repository; archive-get fetches directly meanwhile", "err", err, "retry-in", wait)
		if w, ok, _ := readWant(p.Dir); !ok || time.Since(w.asked) >= p.Idle {
			return nil, nil, nil
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, nil, nil
		}
		wait = min(2*wait, maxOpenWait)
	}
}

// empty removes the prefetched segments and the temporary files of dead
// processes: they cost a download to get again, and no disk meanwhile.
// (This process's downloads have ended and removed their own.)
func (p *Prefetcher) empty() {
	l, err := list(p.Dir)
	if err != nil {
		return
	}
	for name := range l.segments {
		os.Remove(filepath.Join(p.Dir, name))
	}
	p.removeStale(l)
}

// removeStale removes the temporary files of processes that are gone.
func (p *Prefetcher) removeStale(l spooled) {
	for _, t := range l.temps {
		if detach.Stale(t) {
			os.Remove(filepath.Join(p.Dir, t))
		}
	}
}

// session is one prefetcher's state once the repository is open.
type session struct {
	p       *Prefetcher
	r       *repo.Repo
	c       *repo.ClusterInfo
	ahead   int
	lock    *os.File
	busy    map[string]bool    // downloads in flight
	failed  map[string]attempt // the last failure of a segment, until it is fetched or left behind
	results chan fetched
	pending int
}

func (s *session) run(ctx context.Context) error {
	poll := s.p.Poll
	if poll <= 0 {
		poll = defaultPoll
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		w, ok, err := readWant(s.p.Dir)
		if err != nil {
			return fmt.Errorf("prefetch: %w", err)
		}
		if !ok || time.Since(w.asked) >= s.p.Idle {
			s.p.Log.Info("prefetcher exits: archive-get has not been called", "for", s.p.Idle)
			return nil
		}
		if !detach.LockStillOurs(s.lock, LockPath(s.p.Dir)) {
			return fmt.Errorf("prefetch: %s was removed or replaced: another prefetcher may be running", LockPath(s.p.Dir))
		}
		if err := s.step(ctx, w); err != nil {
			return err
		}
		select {
		case f := <-s.results:
			s.finish(f)
		case <-tick.C:
		case <-ctx.Done():
			s.p.Log.Info("prefetcher stopped", "cause", context.Cause(ctx))
			return nil
		}
	}
}

// step removes what recovery no longer needs and starts downloads of the
// next segments, nearest first.
func (s *session) step(ctx context.Context, w want) error {
	l, err := list(s.p.Dir)
	if err != nil {
		return fmt.Errorf("prefetch: %w", err)
	}
	targets := plan(w.seg, s.ahead, s.c.WALSegmentSize)
	keep := map[string]bool{w.seg.Name: true}
	for _, t := range targets {
		keep[t] = true
	}
	for name := range l.segments {
		if !keep[name] {
			os.Remove(filepath.Join(s.p.Dir, name))
		}
	}
	s.p.removeStale(l)
	for name := range s.failed {
		if !keep[name] {
			delete(s.failed, name)
		}
	}
	now := time.Now()
	for _, t := range targets {
		if len(s.busy) >= max(s.p.ProcessMax, 1) {
			break
		}
		if l.segments[t] || s.busy[t] {
			continue
		}
		if a, ok := s.failed[t]; ok && !s.retry(a, w, now) {
			if a.notFound {
				break // the end of the archive, for now: nothing after it either
			}
			continue
		}
		s.start(ctx, t)
	}
	return nil
}

// retry reports whether a failed segment may be asked for again: after a
// pause, or at once when archive-get was called since.
func (s *session) retry(a attempt, w want, now time.Time) bool {
	if w.asked.After(a.at) {
		return true
	}
	wait := failedWait
	if a.notFound {
		wait = notFoundWait
	}
	return now.Sub(a.at) >= wait
}

func (s *session) start(ctx context.Context, name string) {
	s.busy[name] = true
	s.pending++
	go func() {
		fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
		defer cancel()
		tmp := filepath.Join(s.p.Dir, detach.TempName(name, os.Getpid()))
		err := walarchive.Prefetch(fctx, s.r, s.c, name, tmp)
		if err == nil && s.behind(name) {
			// Asked for meanwhile: archive-get fetched it itself.
			os.Remove(tmp)
		} else if err == nil {
			// Prefetch fsynced the file: a name that survives a crash has
			// its content. A lost name costs a download.
			if err = os.Rename(tmp, filepath.Join(s.p.Dir, name)); err != nil {
				os.Remove(tmp)
			}
		}
		s.results <- fetched{name: name, err: err}
	}()
}

// behind reports whether recovery has asked for segment name, or one
// after it on its timeline, since the download started: then archive-get
// did without it, and it must not sit in the spool.
func (s *session) behind(name string) bool {
	w, ok, err := readWant(s.p.Dir)
	if err != nil || !ok {
		return false
	}
	seg, err := pg.ParseWALName(name)
	return err == nil && seg.Timeline == w.seg.Timeline && seg.SegNo(s.c.WALSegmentSize) <= w.seg.SegNo(s.c.WALSegmentSize)
}

func (s *session) finish(f fetched) {
	delete(s.busy, f.name)
	s.pending--
	switch {
	case f.err == nil:
		delete(s.failed, f.name)
		s.p.Log.Debug("prefetched", "wal", f.name)
	case errors.Is(f.err, walarchive.ErrNotFound):
		s.failed[f.name] = attempt{at: time.Now(), notFound: true}
	default:
		if _, again := s.failed[f.name]; !again {
			s.p.Log.Warn("prefetch failed; archive-get will fetch it directly", "wal", f.name, "err", f.err)
		}
		s.failed[f.name] = attempt{at: time.Now()}
	}
}

// wait lets the downloads in flight end (their context is cancelled or
// they finish) so that none renames into the spool after it was emptied.
func (s *session) wait() {
	for s.pending > 0 {
		s.finish(<-s.results)
	}
}

// plan is the segments that follow w on its timeline, as many as ahead.
func plan(w pg.WALName, ahead int, segSize int64) []string {
	next := w.SegNo(segSize)
	out := make([]string, 0, ahead)
	for i := 1; i <= ahead; i++ {
		out = append(out, pg.SegmentName(w.Timeline, next+uint64(i), segSize))
	}
	return out
}
