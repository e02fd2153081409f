package walarchive

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
)

// endCopy answers the CopyDone with which the server ends a timeline and
// reads the result that follows: the next timeline and where it begins.
func (s *streamer) endCopy(ctx context.Context) (uint32, pg.LSN, error) {
	fe := s.conn.Frontend()
	fe.Send(&pgproto3.CopyDone{})
	if err := fe.Flush(); err != nil {
		return 0, 0, err
	}
	var tli uint32
	var at pg.LSN
	for {
		msg, err := s.conn.ReceiveMessage(ctx)
		if err != nil {
			return 0, 0, err
		}
		switch m := msg.(type) {
		case *pgproto3.DataRow:
			if len(m.Values) != 2 {
				return 0, 0, fmt.Errorf("want next_tli and next_tli_startpos, got %d columns", len(m.Values))
			}
			t, terr := strconv.ParseUint(string(m.Values[0]), 10, 32)
			l, lerr := pg.ParseLSN(string(m.Values[1]))
			if err := errors.Join(terr, lerr); err != nil {
				return 0, 0, err
			}
			tli, at = uint32(t), l
		case *pgproto3.ErrorResponse:
			return 0, 0, pgconn.ErrorResponseToPgError(m)
		case *pgproto3.ReadyForQuery:
			if tli == 0 {
				return 0, 0, errors.New("the server ended the stream without naming the next timeline")
			}
			return tli, at, nil
		}
	}
}

// history fetches timeline tli's history file from the server (once per
// run), puts it in the spool for the uploader and returns it parsed.
// Timeline 1 has none.
func (s *streamer) history(ctx context.Context, tli uint32) ([]repo.HistoryEntry, error) {
	if h, ok := s.histories[tli]; ok || tli <= 1 {
		return h, nil
	}
	res, err := pglogrepl.TimelineHistory(ctx, s.conn, int32(tli))
	if err != nil {
		return nil, fmt.Errorf("TIMELINE_HISTORY %d on %s: %w", tli, s.r.server(), err)
	}
	if want := fmt.Sprintf("%08X.history", tli); res.FileName != want {
		return nil, fmt.Errorf("TIMELINE_HISTORY %d on %s: file name %q, want %q", tli, s.r.server(), res.FileName, want)
	}
	h, err := repo.ParseHistory(res.Content)
	if err != nil {
		return nil, fmt.Errorf("%s from %s: %w", res.FileName, s.r.server(), err)
	}
	if err := s.sp.writeFile(res.FileName, res.Content); err != nil {
		return nil, err
	}
	s.histories[tli] = h
	s.up.notify()
	return h, nil
}

// timelineAt is the timeline that lsn belongs to, per the history of
// timeline tli.
func timelineAt(hist []repo.HistoryEntry, lsn pg.LSN, tli uint32) uint32 {
	for _, h := range hist {
		if lsn < h.Switch {
			return h.Parent
		}
	}
	return tli
}

// followHistory moves pos, where the spool says to resume, onto the history
// of the server's timeline tli. A timeline that the server's history left
// at or before pos.lsn continues on its child from the switch point;
// diverged reports WAL in the spool past that point, which the server's
// timeline does not have (an asynchronous failover lost it). The streaming
// itself follows the switches still ahead of pos.
func followHistory(pos position, hist []repo.HistoryEntry, tli uint32) (_ position, diverged bool, _ error) {
	if pos.tli > tli {
		return pos, false, fmt.Errorf("the spool is on timeline %d, the server on the older timeline %d: is it a server of this cluster's past?", pos.tli, tli)
	}
	for pos.tli < tli {
		i := 0
		for i < len(hist) && hist[i].Parent != pos.tli {
			i++
		}
		if i == len(hist) {
			return pos, false, fmt.Errorf("timeline %d of the spool is not in the history of the server's timeline %d", pos.tli, tli)
		}
		if pos.lsn < hist[i].Switch {
			break
		}
		diverged = diverged || pos.lsn > hist[i].Switch
		next := tli
		if i+1 < len(hist) {
			next = hist[i+1].Parent
		}
		pos = position{next, hist[i].Switch}
	}
	return pos, diverged, nil
}
