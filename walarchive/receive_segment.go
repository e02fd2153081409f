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

// write puts WAL that starts at start into the spool, finishing segments
// as they fill up.
func (s *streamer) write(start pg.LSN, data []byte) error {
	if start != s.received {
		return fmt.Errorf("%s sent WAL from %s, expected %s", s.r.server(), start, s.received)
	}
	segSize := s.r.segSize()
	for len(data) > 0 {
		off := int64(s.received - s.segStart)
		n := min(int64(len(data)), segSize-off)
		if _, err := s.file.WriteAt(data[:n], off); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.received += pg.LSN(n)
		data = data[n:]
		if off+n == segSize {
			if err := s.complete(); err != nil {
				return err
			}
		}
	}
	received := s.received
	s.r.update(func(st *ReceiverStatus) { st.Received, st.ReceivedAt = received, time.Now() })
	return nil
}

// flush makes the received WAL durable in the spool.
func (s *streamer) flush() error {
	if s.file == nil || s.flushed == s.received {
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
	err := s.file.Sync()
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

// closeFile closes the current spool file, if any.
func (s *streamer) closeFile() {
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
