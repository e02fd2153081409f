package walarchive

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
)

// closeTimeout bounds what is still sent to the server after ctx ended.
const closeTimeout = 5 * time.Second

// session is a replication connection and what the server said about itself.
type session struct {
	conn    *pgconn.PgConn
	tli     uint32 // the server's timeline
	xlogPos pg.LSN // the server's WAL end
	slot    pg.LSN // the slot's restart_lsn; 0 when it has none
}

func (s *session) close() {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = s.conn.Close(ctx) // the stream is over either way
}

// server names the server in messages.
func (r *Receiver) server() string {
	host := r.o.Conn.Host
	if host == "" {
		host = "(default host)"
	}
	if r.o.Conn.Port == 0 {
		return host
	}
	return host + ":" + strconv.Itoa(r.o.Conn.Port)
}

// replicationConnString is Conn's connection string for a physical
// replication connection under ApplicationName.
func (r *Receiver) replicationConnString() (string, error) {
	u, err := url.Parse(r.o.Conn.ConnString())
	if err != nil {
		return "", fmt.Errorf("connection string: %w", err)
	}
	q := u.Query()
	q.Set("replication", "true")
	q.Set("application_name", r.o.ApplicationName)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// connect opens the replication connection, checks that the server belongs
// to the cluster and makes sure the slot exists.
func (r *Receiver) connect(ctx context.Context) (*session, error) {
	cs, err := r.replicationConnString()
	if err != nil {
		return nil, err
	}
	cfg, err := pgconn.ParseConfig(cs)
	if err != nil {
		return nil, fmt.Errorf("replication connection to %s: %w", r.server(), err)
	}
	cfg.BuildFrontend = bufferedFrontend
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("replication connection to %s: %w", r.server(), err)
	}
	s := &session{conn: conn}
	if err := r.identify(ctx, s); err != nil {
		s.close()
		return nil, err
	}
	if s.slot, err = r.ensureSlot(ctx, conn); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// identify runs IDENTIFY_SYSTEM and checks the system identifier.
func (r *Receiver) identify(ctx context.Context, s *session) error {
	sys, err := pglogrepl.IdentifySystem(ctx, s.conn)
	if err != nil {
		return fmt.Errorf("IDENTIFY_SYSTEM on %s: %w", r.server(), err)
	}
	id, err := strconv.ParseUint(sys.SystemID, 10, 64)
	if err != nil {
		return fmt.Errorf("IDENTIFY_SYSTEM on %s: system identifier %q: %w", r.server(), sys.SystemID, err)
	}
	if id != r.o.Cluster.SystemID {
		return fmt.Errorf("server %s has system identifier %d, cluster %q in the repository has %d%s: %w",
			r.server(), id, r.o.Cluster.Name, r.o.Cluster.SystemID, repo.UpgradeHint(r.o.Cluster, id), repo.ErrClusterMismatch)
	}
	s.tli, s.xlogPos = uint32(sys.Timeline), pg.LSN(sys.XLogPos)
	return nil
}

// ensureSlot creates the physical slot (reserving WAL at once) unless it
// exists and returns its restart_lsn.
func (r *Receiver) ensureSlot(ctx context.Context, rconn *pgconn.PgConn) (pg.LSN, error) {
	conn, err := pg.Connect(ctx, r.o.Conn)
	if err != nil {
		return 0, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		_ = conn.Close(cctx) // only read from
	}()
	restart, found, err := r.querySlot(ctx, conn)
	if err != nil || found {
		return restart, err
	}
	_, err = pglogrepl.CreateReplicationSlot(ctx, rconn, r.o.Slot, "",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.PhysicalReplication, SnapshotAction: "RESERVE_WAL"})
	var pgErr *pgconn.PgError
	if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42710") { // duplicate_object: created meanwhile
		return 0, fmt.Errorf("create physical replication slot %q on %s: %w", r.o.Slot, r.server(), err)
	}
	r.log.Info("created physical replication slot", "server", r.server())
	restart, _, err = r.querySlot(ctx, conn)
	return restart, err
}

// querySlot reads the slot's restart_lsn from pg_replication_slots.
func (r *Receiver) querySlot(ctx context.Context, conn *pgx.Conn) (pg.LSN, bool, error) {
	var typ string
	var restart *string
	err := conn.QueryRow(ctx, `SELECT slot_type, restart_lsn::text FROM pg_replication_slots WHERE slot_name = $1`,
		r.o.Slot).Scan(&typ, &restart)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("look up replication slot %q on %s: %w", r.o.Slot, r.server(), err)
	}
	if typ != "physical" {
		return 0, false, fmt.Errorf("replication slot %q on %s is a %s slot, not physical", r.o.Slot, r.server(), typ)
	}
	if restart == nil {
		return 0, true, nil
	}
	lsn, err := pg.ParseLSN(*restart)
	return lsn, true, err
}

// readBuffer is how much the replication connection reads from its socket
// at once. pgproto3 reads 8 KiB at a time by default: under load that was
// ~900 reads per second for 7 MB/s of WAL.
const readBuffer = 256 << 10

// bufferedFrontend is pgproto3's frontend reading through a readBuffer
// buffer. A read returns what the socket holds; it never waits to fill it.
func bufferedFrontend(r io.Reader, w io.Writer) *pgproto3.Frontend {
	return pgproto3.NewFrontend(bufio.NewReaderSize(r, readBuffer), w)
}
