package asyncpush

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/pgkeep/pgkeep/walarchive"
)

// jobResult is what one upload job reports.
type jobResult struct {
	name  string
	err   error
	ahead bool // err is from the look-ahead, which leaves the file to archive-push
}

// start runs one job: with ahead, archive name from pg_wal; else upload
// the spooled file name.
func (w *session) start(ctx context.Context, name string, ahead bool) {
	w.busy[name] = true
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		r := jobResult{name: name, ahead: ahead}
		if ahead {
			r.err = w.pushAhead(ctx, name)
		} else {
			r.err = w.upload(ctx, name)
		}
		w.results <- r
	}()
}

// upload archives the spooled file name and, once it is durable in the
// repository, records it in done/ and removes it from the spool.
func (w *session) upload(ctx context.Context, name string) error {
	path := w.s.path(name)
	f, err := walarchive.OpenWAL(path, w.cluster)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed by hand, or uploaded a moment ago
	}
	if err != nil {
		return fmt.Errorf("push %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	res, err := w.push(ctx, name, f, nil, nil)
	if err != nil {
		return err
	}
	if w.uploaded(path, fi, res.Size, res.Digest.String()) {
		if err := os.Remove(path); err != nil {
			w.u.Log.Warn("cannot remove the archived file from the spool", "wal", name, "err", err)
		}
	}
	return nil
}

// push archives f, opened by walarchive.OpenWAL, under name with
// walarchive.PushFile (check: see there) and, once it is durable in the
// repository, records it: done/<name> (with id, the identity of the file
// in pg_wal, when the look-ahead archived it), no error marker.
func (w *session) push(ctx context.Context, name string, f *os.File, check func() error, id *fileID) (walarchive.PushResult, error) {
	ctx, cancel := context.WithTimeout(ctx, uploadTimeout)
	defer cancel()
	start := time.Now()
	res, err := walarchive.PushFile(ctx, w.repo, w.cluster, f, check, w.u.Log)
	if err != nil {
		return res, err
	}
	m := doneMarker{Size: res.Size, SHA256: res.Digest.String(), Archived: w.now(), File: id}
	if err := w.s.writeMarker(doneDir, name, m); err != nil {
		w.u.Log.Warn("cannot write the done marker", "wal", name, "err", err)
	}
	if err := w.s.removeMarker(errorDir, name); err != nil {
		w.u.Log.Warn("cannot clear the error marker", "wal", name, "err", err)
	}
	w.u.Log.Info("archived", "wal", name, "bytes", res.Size, "already", res.Already, "ahead", id != nil,
		"took", time.Since(start).Round(time.Millisecond))
	return res, nil
}

// uploaded reports whether the spooled file at path is what was uploaded:
// the same file (fi), or the same content (a push may have published a
// copy over it meanwhile). Anything else stays for the next upload.
func (w *session) uploaded(path string, fi os.FileInfo, size int64, sum string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	cur, err := f.Stat()
	if err != nil {
		return false
	}
	if os.SameFile(cur, fi) {
		return true
	}
	n, s, err := hashFile(f)
	return err == nil && n == size && s == sum
}

// finish takes the result of a job.
func (w *session) finish(r jobResult) {
	delete(w.busy, r.name)
	now := w.now()
	switch {
	case r.err == nil:
		delete(w.retry, r.name)
		delete(w.skipAhead, r.name)
	case errors.Is(r.err, context.Canceled):
		// shutting down
	case r.ahead:
		w.u.Log.Info("look-ahead skipped a file; archive-push will spool it", "wal", r.name, "err", r.err)
		w.skipAhead[r.name] = now.Add(permanentRetry)
	case errors.Is(r.err, walarchive.ErrNotWAL) && !w.rereadFor[r.name]:
		// Not WAL of the registration this session read when it began:
		// `create --upgrade` may have registered its system since. Read
		// the registration again and retry once before it counts.
		w.u.Log.Info("not WAL of the cluster as registered when the uploader started; reading the registration again", "wal", r.name, "err", r.err)
		w.rereadFor[r.name], w.reread = true, true
	default:
		st := w.retry[r.name]
		if st == nil {
			st = &retryState{}
			w.retry[r.name] = st
		}
		w.failed(r.name, st, r.err, now)
	}
}

// failed notes a failed attempt for file (a spooled WAL file, or
// uploaderName for the repository itself), schedules the next one, and
// records the failure in the spool once it repeats or retrying cannot help.
func (w *session) failed(file string, st *retryState, err error, now time.Time) {
	if st.attempts == 0 {
		st.since = now
	}
	st.attempts++
	st.permanent = errors.Is(err, walarchive.ErrConflict) || errors.Is(err, walarchive.ErrNotWAL)
	st.next = now.Add(backoff(st.attempts))
	if st.permanent {
		st.next = now.Add(permanentRetry)
	}
	msg := "upload failed"
	if file == uploaderName {
		msg = "cannot open the repository"
	}
	w.u.Log.Warn(msg, "file", file, "attempt", st.attempts, "retry-in", st.next.Sub(now).Round(time.Millisecond), "err", err)
	var rec failure
	had, rerr := w.s.readMarker(errorDir, file, &rec)
	if rerr != nil {
		w.u.Log.Warn("cannot read the error marker", "file", file, "err", rerr)
	}
	if !had && !st.permanent && st.attempts < recordAfter {
		return
	}
	if had {
		rec.Attempts++
	} else {
		rec = failure{File: file, Since: st.since, Attempts: st.attempts}
	}
	rec.Message = strings.Join(strings.Fields(err.Error()), " ")
	rec.Conflict = errors.Is(err, walarchive.ErrConflict)
	rec.Permanent = st.permanent
	rec.Last = now
	if err := w.s.writeMarker(errorDir, file, rec); err != nil {
		w.u.Log.Error("cannot record the failure in the spool", "file", file, "err", err)
	}
}

// backoff is the wait before attempt n+1: 1s, 2s, 4s ... at most maxBackoff.
func backoff(n int) time.Duration {
	d := time.Second << min(n-1, 10)
	return min(d, maxBackoff)
}
