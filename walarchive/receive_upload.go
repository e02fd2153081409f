package walarchive

import (
	"context"
	"errors"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
)

// Upload retries back off from uploadRetryMin to uploadRetryMax.
const (
	uploadRetryMin = 500 * time.Millisecond
	uploadRetryMax = 30 * time.Second
)

// uploader moves finished files from the spool into the repository, and the
// current segment's WAL so far as <segment>.partial every PartialInterval;
// each .partial compresses only what the one before lacked. One goroutine
// does both, so a segment's .partial is never uploaded after the segment
// itself.
type uploader struct {
	r    *Receiver
	sp   *spool
	wake chan struct{}
	fast *repo.Repo // the repository with s2 compression, for .partial

	partial     *repo.GrowingFile // the .partial of partialSeg
	partialSeg  string
	partialSize int64 // its size in the repository
	backlog     bool  // the last scan left finished files in the spool
}

func newUploader(r *Receiver, sp *spool) *uploader {
	// s2, not the repository's compression: the .partial is replaced
	// often while it grows, then by the segment itself.
	fast := r.o.Repo.WithCompression(repo.CompressS2, 0)
	return &uploader{r: r, sp: sp, wake: make(chan struct{}, 1), fast: fast}
}

// notify says that the spool has something new.
func (u *uploader) notify() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// run uploads until ctx ends. It returns an error only for what retrying
// cannot fix: the repository holds other content under a spooled name.
func (u *uploader) run(ctx context.Context) error {
	partial := time.NewTicker(u.r.o.PartialInterval)
	defer partial.Stop()
	var delay time.Duration
	for {
		var retry <-chan time.Time
		err := u.uploadSpool(ctx)
		u.backlog = err != nil
		if err == nil && u.r.o.Strict {
			err = u.uploadPartial(ctx) // the flushed WAL waits for it
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrConflict) || errors.Is(err, ErrNotWAL):
			u.r.log.Error("the repository refuses spooled WAL; stopping the receiver", "err", err)
			return err
		case err != nil:
			delay = min(max(2*delay, uploadRetryMin), uploadRetryMax)
			u.failed(err, delay)
			retry = time.After(delay)
		default:
			delay = 0
		}
		if !u.wait(ctx, retry, partial.C) {
			return nil
		}
	}
}

// wait returns when the spool is to be scanned again: on retry while
// backing off, else on a notification. It uploads the .partial meanwhile.
func (u *uploader) wait(ctx context.Context, retry, partial <-chan time.Time) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-retry:
			return true
		case <-u.wake:
			if retry == nil {
				return true
			}
		case <-partial:
			if err := u.uploadPartial(ctx); err != nil && ctx.Err() == nil {
				u.failed(err, u.r.o.PartialInterval)
			}
		}
	}
}

func (u *uploader) failed(err error, retry time.Duration) {
	u.r.log.Warn("upload failed; WAL stays in the spool", "err", err, "retry-in", retry)
	u.r.update(func(st *ReceiverStatus) { st.UploadError = err.Error() })
}

// uploadSpool uploads every finished file in the spool, in WAL order, and
// stops at the first failure.
func (u *uploader) uploadSpool(ctx context.Context) error {
	files, err := u.sp.walFiles()
	if err != nil {
		return err
	}
	current := u.r.Status().Segment
	for _, w := range files {
		switch w.Kind {
		case pg.KindSegment, pg.KindHistory:
			err = u.push(ctx, w)
		case pg.KindPartial:
			if current != "" && w.Name != current+".partial" {
				err = u.pushEndedPartial(ctx, w)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}
