package walarchive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
)

// errStopped: the context ended; the streamer stops cleanly.
var errStopped = errors.New("receiver stopped")

// Run streams WAL until ctx ends or the stream fails. On cancellation of
// ctx it stops cleanly (spool fsynced, state file written, a last status
// update sent) and returns nil. Finished files that an earlier run left in
// the spool are uploaded alongside the stream. A file that the repository
// holds with different content ends Run with an error wrapping ErrConflict
// (the file stays in the spool); other upload failures are retried.
func (r *Receiver) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("receiver: already running")
	}
	defer r.running.Store(false)
	r.update(func(st *ReceiverStatus) { st.Segment, st.UploadError = "", "" }) // until streaming starts
	sp, err := openSpool(r.o.SpoolDir)
	if err != nil {
		return err
	}
	defer sp.close()
	if err := r.drainEarlier(ctx, sp); err != nil {
		return err
	}

	streamCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	up := newUploader(r, sp)
	upDone := make(chan error, 1)
	go func() {
		err := up.run(streamCtx)
		if err != nil {
			cancel(err) // stops the stream; Run returns err
		}
		upDone <- err
	}()

	err = r.stream(streamCtx, sp, up)
	cancel(nil)
	if upErr := <-upDone; upErr != nil {
		return errors.Join(upErr, err)
	}
	r.uploadLast(ctx, up)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Cause(ctx)) {
		return nil // cancelled while connecting: nothing to clean up
	}
	return err
}

// drainEarlier empties a spool that holds WAL of an earlier generation of
// the cluster, left when streaming stopped for a pg_upgrade: its files go
// into that generation's archive (finished segments and history files as
// such, unfinished segments as .partial), and only then does the spool
// start afresh for the current generation. A failure leaves the spool as
// it was.
func (r *Receiver) drainEarlier(ctx context.Context, sp *spool) error {
	st, _, ok, err := sp.readState()
	if err != nil || !ok || st.SystemID == r.o.Cluster.SystemID {
		return err
	}
	g := r.o.Cluster.ForSystem(st.SystemID)
	if g == nil {
		return nil // another system's spool: startPosition refuses it
	}
	o := r.o
	o.Cluster = g
	old, err := NewReceiver(o)
	if err != nil {
		return err
	}
	up := newUploader(old, sp)
	files, err := sp.walFiles()
	if err != nil {
		return err
	}
	for _, w := range files {
		if w.Kind == pg.KindPartial {
			err = up.pushEndedPartial(ctx, w)
		} else {
			err = up.push(ctx, w)
		}
		if err != nil {
			return fmt.Errorf("spool %s holds WAL of %s, from before an upgrade; archiving it there: %w", sp.dir, g.Describe(), err)
		}
	}
	if err := sp.remove(spoolStateFile); err != nil {
		return err
	}
	r.log.Info("archived the spool's WAL from before the upgrade; streaming starts afresh", "earlier", g.Describe(),
		"files", len(files), "current", r.o.Cluster.Describe())
	return nil
}

// finalUploadTimeout bounds the last upload when a stream ends.
const finalUploadTimeout = 30 * time.Second

// uploadLast puts what the spool holds durably into the repository when
// the stream ended, for whatever reason: after the server died, no later
// partial interval would upload the last acknowledged WAL.
func (r *Receiver) uploadLast(ctx context.Context, up *uploader) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalUploadTimeout)
	defer cancel()
	err := up.uploadSpool(ctx)
	if err == nil {
		err = up.uploadPartial(ctx)
	}
	if err != nil {
		r.log.Warn("last upload after the stream ended failed; the WAL stays in the spool", "err", err)
	}
}

// stream connects, finds the start position and streams until ctx ends.
func (r *Receiver) stream(ctx context.Context, sp *spool, up *uploader) error {
	sess, err := r.connect(ctx)
	if err != nil {
		return err
	}
	defer sess.close()
	s := &streamer{r: r, sp: sp, up: up, conn: sess.conn, histories: map[uint32][]repo.HistoryEntry{}, serverTLI: sess.tli}
	pos, err := s.startPosition(ctx, sess)
	if err != nil {
		return err
	}
	r.update(func(st *ReceiverStatus) { st.Start = pos.lsn })
	r.log.Info("streaming WAL", "server", r.server(), "timeline", pos.tli, "start", pos.lsn)
	return s.run(ctx, pos)
}
