package walarchive

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/pgkeep/pgkeep/pg"
)

// reportDue says whether to fsync and report now rather than at the end of
// the batch.
func (s *streamer) reportDue() bool {
	return !time.Now().Before(s.nextStatus) ||
		s.r.o.Synchronous && s.end()-s.flushed >= syncFlushBytes
}

// report fsyncs the spool and sends a status update when one is due: every
// StatusInterval, when the server asks for one, and in synchronous mode
// whenever the reported flush position advanced. Without Synchronous the
// spool is fsynced only when a status update goes out. In strict mode a
// flush asks the uploader for a .partial at once.
func (s *streamer) report(asked bool) error {
	due := asked || !time.Now().Before(s.nextStatus)
	before := s.flushed
	if due || s.r.o.Synchronous {
		if err := s.flush(); err != nil {
			return err
		}
	}
	if s.r.o.Strict && s.flushed != before {
		s.up.notify()
	}
	if due || s.reportedFlush() != s.flushSent {
		return s.sendStatus()
	}
	return nil
}

// reportedFlush is the flush position the server is told: what the spool
// holds, or in strict mode what the repository holds on this timeline (0,
// no position, while it holds nothing of it).
func (s *streamer) reportedFlush() pg.LSN {
	if !s.r.o.Strict {
		return s.flushed
	}
	st := s.r.Status()
	if st.ArchivedTimeline != s.tli {
		return 0
	}
	return min(s.flushed, st.Archived)
}

// awaitingArchive says whether, in strict mode, flushed WAL waits for the
// repository.
func (s *streamer) awaitingArchive() bool {
	return s.r.o.Strict && s.reportedFlush() < s.flushed
}

// sendStatus tells the server what is received (write), durable (flush,
// see reportedFlush) and durable in the repository (apply; the flush
// position until something is archived). The slot's restart_lsn follows
// flush.
func (s *streamer) sendStatus() error {
	flush := s.reportedFlush()
	apply := s.r.Status().Archived
	if apply == 0 || apply > flush {
		apply = flush
	}
	err := pglogrepl.SendStandbyStatusUpdate(context.Background(), s.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pglogrepl.LSN(s.received),
		WALFlushPosition: pglogrepl.LSN(flush),
		WALApplyPosition: pglogrepl.LSN(apply),
		ClientTime:       time.Now(),
	})
	if err != nil {
		return fmt.Errorf("send standby status to %s: %w", s.r.server(), err)
	}
	s.flushSent = flush
	s.nextStatus = time.Now().Add(s.r.o.StatusInterval)
	return nil
}

// stop ends a run cleanly: the spool fsynced, the state file at the flushed
// position, a last status update so that the slot keeps only what is needed.
func (s *streamer) stop() error {
	if s.file == nil {
		return nil // between timelines: the state file is written
	}
	defer s.closeFile()
	if err := s.flush(); err != nil {
		return err
	}
	if err := s.sp.writeState(s.r.o.Cluster.SystemID, s.tli, s.flushed); err != nil {
		return err
	}
	if s.inCopy {
		if err := s.sendStatus(); err != nil {
			s.r.log.Warn("last status update failed; the server learns the position on the next connection", "err", err)
		}
	}
	s.r.log.Info("stopped streaming", "timeline", s.tli, "flushed", s.flushed)
	return nil
}
