package walarchive

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
)

// In synchronous mode a batch of WAL ends when no message arrives for
// syncPoll; it is fsynced and reported then, or once syncFlushBytes are
// pending, whichever comes first.
const (
	syncPoll       = time.Millisecond
	syncFlushBytes = 1 << 20
)

// position is where streaming starts: a segment start on a timeline.
type position struct {
	tli uint32
	lsn pg.LSN
}

// streamer receives WAL on one replication connection into the spool.
type streamer struct {
	r         *Receiver
	sp        *spool
	up        *uploader
	conn      *pgconn.PgConn
	histories map[uint32][]repo.HistoryEntry // fetched in this run
	serverTLI uint32                         // the server's timeline when the session began

	tli        uint32
	file       *os.File // <segment>.partial being written
	segStart   pg.LSN
	pending    []byte // WAL received after received, not yet written (writePending)
	received   pg.LSN // end of the WAL written to file
	flushed    pg.LSN // end of the WAL fsynced
	flushSent  pg.LSN // the flush position last sent to the server
	inCopy     bool
	nextStatus time.Time
}

// run streams from pos, following timeline switches, until ctx ends (a
// clean stop) or the stream fails.
func (s *streamer) run(ctx context.Context, pos position) error {
	for {
		next, err := s.streamTimeline(ctx, pos)
		if err == nil {
			_, err = s.history(ctx, next.tli)
		}
		if errors.Is(err, errStopped) || (err != nil && ctx.Err() != nil) {
			return s.stop()
		}
		if err != nil {
			s.closeFile()
			return err
		}
		pos = next
	}
}

// streamTimeline streams timeline pos.tli from pos.lsn until the server ends
// the timeline, and returns where the next timeline continues.
func (s *streamer) streamTimeline(ctx context.Context, pos position) (position, error) {
	if err := s.open(pos); err != nil {
		return position{}, err
	}
	err := pglogrepl.StartReplication(ctx, s.conn, s.r.o.Slot, pglogrepl.LSN(pos.lsn),
		pglogrepl.StartReplicationOptions{Timeline: int32(pos.tli), Mode: pglogrepl.PhysicalReplication})
	if tli, at, ok := pglogrepl.IsErrEndTimeline(err); ok {
		return s.endTimeline(uint32(tli), pg.LSN(at))
	}
	if err != nil {
		return position{}, fmt.Errorf("START_REPLICATION at %s on timeline %d on %s: %w", pos.lsn, pos.tli, s.r.server(), err)
	}
	s.inCopy = true
	s.nextStatus = time.Now().Add(s.r.o.StatusInterval)
	// Batched reads only on the server's own timeline: an older one ends
	// after a short tail of WAL and CopyDone, which would wait for the read
	// deadline (up to StatusInterval) before the next timeline is followed.
	if !s.r.o.Synchronous && pos.tli >= s.serverTLI {
		batchReads(s.conn.Conn(), true)
		defer batchReads(s.conn.Conn(), false)
	}
	for {
		msg, err := s.receive(ctx)
		if ctx.Err() != nil {
			return position{}, errStopped
		}
		if err != nil {
			return position{}, fmt.Errorf("receive WAL from %s: %w", s.r.server(), err)
		}
		switch m := msg.(type) {
		case nil: // a quiet moment: the end of a batch
			if err = s.writePending(); err == nil {
				err = s.report(false)
			}
		case *pgproto3.CopyData:
			err = s.copyData(m.Data)
		case *pgproto3.CopyDone:
			s.inCopy = false
			batchReads(s.conn.Conn(), false) // the replies that follow are short
			tli, at, err := s.endCopy(ctx)
			if err != nil {
				return position{}, fmt.Errorf("end of timeline %d on %s: %w", s.tli, s.r.server(), err)
			}
			return s.endTimeline(tli, at)
		case *pgproto3.ErrorResponse:
			return position{}, fmt.Errorf("stream from %s: %w", s.r.server(), pgconn.ErrorResponseToPgError(m))
		case *pgproto3.CommandComplete:
			return position{}, fmt.Errorf("%s ended the stream at %s (is it shutting down?)", s.r.server(), s.received)
		}
		if err == nil && s.reportDue() {
			err = s.report(false)
		}
		if err != nil {
			return position{}, err
		}
	}
}

// receive waits for the next message until a status update is due (in
// synchronous mode with WAL pending: until the batch ends; in strict mode
// while WAL waits for the repository: shortly, to report it once there). A
// nil message means the wait ended quietly.
func (s *streamer) receive(ctx context.Context) (pgproto3.BackendMessage, error) {
	deadline := s.nextStatus
	waiting := s.r.o.Synchronous && s.end() != s.flushed || s.awaitingArchive()
	if poll := time.Now().Add(syncPoll); waiting && poll.Before(deadline) {
		deadline = poll
	}
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	msg, err := s.conn.ReceiveMessage(rctx)
	if err != nil && ctx.Err() == nil && pgconn.Timeout(err) {
		return nil, nil
	}
	return msg, err
}

// copyData handles one message of the stream.
func (s *streamer) copyData(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("%s sent an empty message", s.r.server())
	}
	switch data[0] {
	case pglogrepl.XLogDataByteID:
		x, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("stream from %s: %w", s.r.server(), err)
		}
		s.r.update(func(st *ReceiverStatus) { st.ServerEnd = max(st.ServerEnd, pg.LSN(x.ServerWALEnd)) })
		return s.write(pg.LSN(x.WALStart), x.WALData)
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		k, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("stream from %s: %w", s.r.server(), err)
		}
		s.r.update(func(st *ReceiverStatus) { st.ServerEnd = max(st.ServerEnd, pg.LSN(k.ServerWALEnd)) })
		if k.ReplyRequested {
			return s.report(true)
		}
	}
	return nil
}
