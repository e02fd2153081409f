package walarchive

import (
	"context"
	"fmt"
)

// startPosition decides where streaming begins: where the spool's state
// file says, else at the slot's restart_lsn, else at the server's current
// position; always at the start of that segment, on the timeline the
// server's history gives it. The state file is written at once, so that a
// spool file never exists without one.
func (s *streamer) startPosition(ctx context.Context, sess *session) (position, error) {
	st, lsn, ok, err := s.sp.readState()
	if err != nil {
		return position{}, err
	}
	hist, err := s.history(ctx, sess.tli)
	if err != nil {
		return position{}, err
	}
	var pos position
	switch {
	case ok && st.SystemID != s.r.o.Cluster.SystemID:
		return position{}, fmt.Errorf("spool %s holds WAL of system identifier %d, cluster %q has %d: use another spool directory",
			s.sp.dir, st.SystemID, s.r.o.Cluster.Name, s.r.o.Cluster.SystemID)
	case ok:
		pos = position{st.Timeline, lsn}
		s.r.log.Info("resuming from the spool", "timeline", st.Timeline, "durable", lsn)
	case sess.slot != 0:
		pos = position{timelineAt(hist, s.r.segStart(sess.slot), sess.tli), sess.slot}
	default:
		pos = position{sess.tli, sess.xlogPos}
	}
	next, diverged, err := followHistory(pos, hist, sess.tli)
	if err != nil {
		return position{}, fmt.Errorf("resume on %s: %w", s.r.server(), err)
	}
	if diverged {
		s.r.log.Warn("the spool holds WAL past the point where the server's timeline forked off: that WAL is not on the server's timeline (lost in an asynchronous failover); it stays archived as .partial of its timeline",
			"timeline", pos.tli, "spool", pos.lsn, "next-timeline", next.tli, "switch", next.lsn)
	}
	pos = position{next.tli, s.r.segStart(next.lsn)}
	if err := s.sp.writeState(s.r.o.Cluster.SystemID, pos.tli, pos.lsn); err != nil {
		return position{}, err
	}
	return pos, nil
}
