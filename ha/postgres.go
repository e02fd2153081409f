package ha

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgkeep/pgkeep/ha/decide"
	"github.com/pgkeep/pgkeep/pg"
)

// postgres is the member's own PostgreSQL server.
type postgres struct {
	dataDir, bin, logFile string
	conn                  pg.ConnOptions
	conf                  pgConf
	command               func(ctx context.Context, name string, args ...string) *exec.Cmd
	log                   *slog.Logger

	// stateConn is the connection query reuses from turn to turn (a new
	// backend every second costs the agent and the server more than the
	// query itself); nil until opened and after an error.
	stateMu   sync.Mutex
	stateConn *pgx.Conn
}

func newPostgres(o Options) *postgres {
	c := o.Conn
	if c.Timeout == 0 {
		c.Timeout = o.RetryTimeout
	}
	return &postgres{dataDir: o.PGData, bin: o.PGBin, logFile: o.PGLogFile, conn: c, conf: newPGConf(o), command: o.Command, log: o.Logger}
}

// pgState is the server's state: what the decision needs, and the
// positions the member key and the REST API show.
type pgState struct {
	decide.PG
	Receive, Replay pg.LSN // a standby's
}

// State reads the server's state over a connection; when it cannot
// connect, the server is taken as stopped, and its timeline and end of WAL
// are read from pg_control.
func (p *postgres) State(ctx context.Context) pgState {
	s, err := p.query(ctx)
	if err == nil {
		return s
	}
	p.log.Debug("PostgreSQL does not answer", "err", err)
	s, cerr := p.controlData(ctx)
	switch {
	case cerr == nil:
	case ctx.Err() != nil || !p.hasControlFile():
		// Stopping, or initdb or a clone is filling the data directory.
		p.log.Debug("cannot read pg_control", "err", cerr)
	default:
		p.log.Warn("cannot read pg_control", "err", cerr)
	}
	return s
}

// hasControlFile reports whether global/pg_control exists in the data
// directory (an error other than its absence counts as existing).
func (p *postgres) hasControlFile() bool {
	_, err := os.Stat(filepath.Join(p.dataDir, "global", "pg_control"))
	return !errors.Is(err, fs.ErrNotExist)
}

// query asks the running server for its state, on the kept connection; a
// kept connection that fails (the server restarted meanwhile) is replaced
// and the question asked once more.
func (p *postgres) query(ctx context.Context) (pgState, error) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	reused := p.stateConn != nil
	s, err := p.queryOnce(ctx)
	if err != nil && reused && ctx.Err() == nil {
		s, err = p.queryOnce(ctx)
	}
	return s, err
}

// queryOnce asks the server for its state on the kept connection, opening
// it first if needed, and drops the connection on an error. The caller
// holds stateMu.
func (p *postgres) queryOnce(ctx context.Context) (pgState, error) {
	if p.stateConn == nil {
		conn, err := pg.Connect(ctx, p.conn)
		if err != nil {
			return pgState{}, err
		}
		p.stateConn = conn
	}
	s, err := p.queryState(ctx, p.stateConn)
	if err != nil {
		p.closeState(ctx)
	}
	return s, err
}

// closeStateConn closes the kept connection, when the agent stops.
func (p *postgres) closeStateConn() {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	p.closeState(context.Background())
}

// closeState closes the kept connection. The caller holds stateMu.
func (p *postgres) closeState(ctx context.Context) {
	if p.stateConn != nil {
		_ = p.stateConn.Close(context.WithoutCancel(ctx))
		p.stateConn = nil
	}
}

// queryState reads the state on conn.
func (p *postgres) queryState(ctx context.Context, conn *pgx.Conn) (pgState, error) {
	s := pgState{PG: decide.PG{Running: true}}
	var wal, receive, replay *string
	var receivedTLI, checkpointTLI, minRecoveryTLI *int64
	var receiver *string
	err := conn.QueryRow(ctx, `SELECT pg_is_in_recovery(),
		CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) || ' ' || pg_current_wal_lsn()::text END,
		pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,
		(SELECT received_tli FROM pg_stat_wal_receiver), (SELECT timeline_id FROM pg_control_checkpoint()),
		(SELECT min_recovery_end_timeline FROM pg_control_recovery()), (SELECT status FROM pg_stat_wal_receiver)`).
		Scan(&s.InRecovery, &wal, &receive, &replay, &receivedTLI, &checkpointTLI, &minRecoveryTLI, &receiver)
	if err != nil {
		return pgState{}, fmt.Errorf("query PostgreSQL's state: %w", err)
	}
	if wal != nil { // primary: "<walfile> <lsn>", the timeline in the file name
		name, lsn, _ := strings.Cut(*wal, " ")
		tli, _ := strconv.ParseUint(name[:8], 16, 32)
		s.Timeline = uint32(tli)
		s.LSN, err = pg.ParseLSN(lsn)
		return s, err
	}
	if receive != nil {
		s.Receive, _ = pg.ParseLSN(*receive)
	}
	if replay != nil {
		s.Replay, _ = pg.ParseLSN(*replay)
	}
	s.Streaming = receiver != nil && *receiver == "streaming"
	// The timeline replayed and how far WAL goes on it, as IDENTIFY_SYSTEM
	// tells (the received position only when received on the replayed
	// timeline): pg_stat_wal_receiver's timeline can be the leader's while
	// replay is stuck on an older one past the switch (a diverged standby
	// streams the new timeline and cannot replay it), and without a WAL
	// receiver the checkpoint's timeline can be older than the replayed.
	tli, pos, err := p.identify(ctx)
	if err == nil {
		s.Timeline, s.LSN = tli, pos
		return s, nil
	}
	p.log.Debug("IDENTIFY_SYSTEM on the standby", "err", err)
	s.LSN = max(s.Receive, s.Replay)
	// A standby replays on the newest of these: the one it receives, the
	// one its last restartpoint is on, and the one its minimum recovery
	// point is on (after pg_rewind: the leader's, before any restartpoint).
	for _, tli := range []*int64{receivedTLI, checkpointTLI, minRecoveryTLI} {
		if tli != nil && uint32(*tli) > s.Timeline {
			s.Timeline = uint32(*tli)
		}
	}
	return s, nil
}

// identify asks a standby the timeline it replays and how far its WAL
// goes on it (IDENTIFY_SYSTEM over a replication connection).
func (p *postgres) identify(ctx context.Context) (uint32, pg.LSN, error) {
	conn, err := pgconn.Connect(ctx, p.conn.ConnString()+"&replication=true")
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	sys, err := pglogrepl.IdentifySystem(ctx, conn)
	if err != nil {
		return 0, 0, err
	}
	return uint32(sys.Timeline), pg.LSN(sys.XLogPos), nil
}

// controlData reads a stopped server's timeline and end of WAL from
// pg_controldata.
func (p *postgres) controlData(ctx context.Context) (pgState, error) {
	out, err := p.run(ctx, "pg_controldata", "-D", p.dataDir)
	if err != nil {
		return pgState{}, err
	}
	var s pgState
	var checkpoint, minRecovery pg.LSN
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Latest checkpoint's TimeLineID":
			n, _ := strconv.ParseUint(v, 10, 32)
			s.Timeline = uint32(n)
		case "Latest checkpoint location":
			checkpoint, _ = pg.ParseLSN(v)
		case "Minimum recovery ending location":
			minRecovery, _ = pg.ParseLSN(v)
		case "Min recovery ending loc's timeline":
			if n, _ := strconv.ParseUint(v, 10, 32); n > uint64(s.Timeline) {
				s.Timeline = uint32(n)
			}
		}
	}
	s.LSN = max(checkpoint, minRecovery)
	return s, nil
}

// run runs one of PostgreSQL's programs and returns its output.
func (p *postgres) run(ctx context.Context, prog string, args ...string) (string, error) {
	name := prog
	if p.bin != "" {
		name = filepath.Join(p.bin, prog)
	}
	out, err := p.command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", prog, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// ctlTimeout bounds pg_ctl start and stop.
const ctlTimeout = 60 * time.Second
