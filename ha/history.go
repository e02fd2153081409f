package ha

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
)

// timelineHistory returns the history key's entries after a promotion: the
// lines of the new timeline's history file (timeline, switch point,
// reason), keeping the time and leader of the entries the key already
// has, and stamping the new ones with now and leader.
func (p *postgres) timelineHistory(ctx context.Context, old *dcs.History, leader string, now time.Time) ([]dcs.HistoryEntry, error) {
	conn, err := pg.Connect(ctx, p.conn)
	if err != nil {
		return nil, fmt.Errorf("read timeline history: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var walfile string
	if err := conn.QueryRow(ctx, "SELECT pg_walfile_name(pg_current_wal_lsn())").Scan(&walfile); err != nil {
		return nil, fmt.Errorf("read timeline history: %w", err)
	}
	if walfile[:8] == "00000001" {
		return nil, nil // timeline 1 has no history
	}
	var content string
	if err := conn.QueryRow(ctx, "SELECT pg_read_file('pg_wal/' || $1::text || '.history')", walfile[:8]).Scan(&content); err != nil {
		return nil, fmt.Errorf("read timeline history %s.history: %w", walfile[:8], err)
	}
	return parseHistoryFile(content, old, leader, now), nil
}

// parseHistoryFile reads a timeline history file's lines,
// "<timeline>\t<switch LSN>\t<reason>".
func parseHistoryFile(content string, old *dcs.History, leader string, now time.Time) []dcs.HistoryEntry {
	var out []dcs.HistoryEntry
	sc := bufio.NewScanner(strings.NewReader(content))
	for sc.Scan() {
		f := strings.SplitN(strings.TrimSpace(sc.Text()), "\t", 3)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		tli, err1 := strconv.ParseUint(f[0], 10, 32)
		lsn, err2 := pg.ParseLSN(strings.TrimSpace(f[1]))
		if err1 != nil || err2 != nil {
			continue
		}
		e := dcs.HistoryEntry{Timeline: uint32(tli), LSN: uint64(lsn), Time: dcs.FormatTime(now), NewLeader: leader}
		if len(f) == 3 {
			e.Reason = strings.TrimSpace(f[2])
		}
		if old != nil {
			for _, o := range old.Entries {
				if o.Timeline == e.Timeline && o.LSN == e.LSN {
					e = o
				}
			}
		}
		out = append(out, e)
	}
	return out
}
