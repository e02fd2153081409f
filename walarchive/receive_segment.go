package walarchive

import (
	"fmt"
	"os"
	"time"

	"github.com/pgkeep/pgkeep/pg"
)

// open starts receiving the segment that begins at pos. Its spool file
// <segment>.partial is written in place from offset 0, so a file left by an
// earlier run is overwritten with the same WAL and what it held stays
// durable meanwhile. The segment becomes the current one before the file
// exists: the uploader takes any other .partial for a finished one.
func (s *streamer) open(pos position) error {
	if pos.lsn != s.r.segStart(pos.lsn) {
		return fmt.Errorf("receiver: start %s is not at a segment boundary", pos.lsn)
	}
	name := pg.SegmentOf(pos.tli, pos.lsn, s.r.segSize())
	s.r.update(func(st *ReceiverStatus) {
		st.Timeline, st.Segment = pos.tli, name
		st.Received, st.Flushed = pos.lsn, pos.lsn
	})
	f, err := os.OpenFile(s.sp.path(name+".partial"), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := s.sp.syncDir(); err != nil {
		f.Close()
		return err
	}
	s.file, s.tli, s.segStart, s.received, s.flushed = f, pos.tli, pos.lsn, pos.lsn, pos.lsn
	s.up.notify()
	return nil
}

// writeBatch is how much received WAL the streamer gathers before it
// writes it to the spool file. Under load the server sends a message per
// commit flush, a few kB each, and a write per message was the daemon's
// most frequent system call.
const writeBatch = 256 << 10

// end is the end of the WAL received: written to the spool file, or
// gathered to be written.
func (s *streamer) end() pg.LSN { return s.received + pg.LSN(len(s.pending)) }

// write takes WAL that starts at start, finishing segments as they fill
// up. It reaches the spool file in batches: when writeBatch bytes are
// gathered, at the end of a segment, and before every fsync and quiet
// moment (writePending).
func (s *streamer) write(start pg.LSN, data []byte) error {
	if start != s.end() {
		return fmt.Errorf("%s sent WAL from %s, expected %s", s.r.server(), start, s.end())
	}
	segSize := s.r.segSize()
	for len(data) > 0 {
		off := int64(s.end() - s.segStart)
		n := min(int64(len(data)), segSize-off)
		s.pending = append(s.pending, data[:n]...)
		data = data[n:]
		var err error
		if off+n == segSize {
			err = s.complete()
		} else if len(s.pending) >= writeBatch {
			err = s.writePending()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writePending writes the gathered WAL to the spool file.
func (s *streamer) writePending() error {
	if len(s.pending) == 0 {
		return nil
	}
	if _, err := s.file.WriteAt(s.pending, int64(s.received-s.segStart)); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.received += pg.LSN(len(s.pending))
	s.pending = s.pending[:0]
	received := s.received
	s.r.update(func(st *ReceiverStatus) { st.Received, st.ReceivedAt = received, time.Now() })
	return nil
}

// flush makes the received WAL durable in the spool.
func (s *streamer) flush() error {
	if s.file == nil {
		return nil
	}
	if err := s.writePending(); err != nil {
		return err
	}
	if s.flushed == s.received {
		return nil
	}
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("spool: fsync: %w", err)
	}
	s.flushed = s.received
	s.setFlushed()
	return nil
}

func (s *streamer) setFlushed() {
	flushed := s.flushed
	s.r.update(func(st *ReceiverStatus) { st.Flushed, st.FlushedAt = flushed, time.Now() })
}

// complete publishes the full segment under its own name for the uploader
// and moves the state file to the next segment before the next segment's
// WAL is reported flushed, so that the slot never passes the state file.
func (s *streamer) complete() error {
	name := pg.SegmentOf(s.tli, s.segStart, s.r.segSize())
	err := s.writePending()
	if err == nil {
		err = s.file.Sync()
	}
	if cerr := s.file.Close(); err == nil {
		err = cerr
	}
	s.file = nil
	if err != nil {
		return fmt.Errorf("spool: %s: %w", name, err)
	}
	if err := s.sp.rename(name+".partial", name); err != nil {
		return err
	}
	next := position{s.tli, s.received}
	if err := s.sp.writeState(s.r.o.Cluster.SystemID, next.tli, next.lsn); err != nil {
		return err
	}
	s.flushed = s.received
	s.setFlushed()
	s.r.log.Debug("segment received", "segment", name)
	return s.open(next)
}

// closeFile closes the current spool file, if any, and drops WAL gathered
// for it but not written (neither written nor reported: the next run
// receives it again).
func (s *streamer) closeFile() {
	s.pending = s.pending[:0]
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
}

// endTimeline closes the current timeline, which the server ended at its
// switch point at, and returns where timeline tli continues: at the start
// of the segment holding the switch point, which the new timeline's copy of
// that segment repeats up to it. The old timeline's unfinished segment stays
// in the spool as <segment>.partial, cut at the switch point, until the
// uploader has archived it.
func (s *streamer) endTimeline(tli uint32, at pg.LSN) (position, error) {
	if tli <= s.tli {
		return position{}, fmt.Errorf("%s switched from timeline %d to timeline %d", s.r.server(), s.tli, tli)
	}
	if err := s.writePending(); err != nil {
		return position{}, err
	}
	if at < s.segStart || at > s.received {
		return position{}, fmt.Errorf("%s ended timeline %d at %s, but its WAL was received from %s only up to %s",
			s.r.server(), s.tli, at, s.segStart, s.received)
	}
	name := pg.SegmentOf(s.tli, s.segStart, s.r.segSize()) + ".partial"
	var err error
	if off := int64(at - s.segStart); off == 0 {
		s.closeFile()
		err = s.sp.remove(name)
	} else if err = s.file.Truncate(off); err == nil {
		err = s.file.Sync()
	}
	s.closeFile()
	if err != nil {
		return position{}, fmt.Errorf("spool: %s: %w", name, err)
	}
	s.received, s.flushed = at, at
	next := position{tli, s.r.segStart(at)}
	if err := s.sp.writeState(s.r.o.Cluster.SystemID, next.tli, next.lsn); err != nil {
		return position{}, err
	}
	s.r.log.Info("timeline ended; following the next one", "timeline", s.tli, "switch", at, "next", tli)
	return next, nil
}
