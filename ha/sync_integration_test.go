package ha

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/test/harness"
)

// testCluster is three members (or two) on loopback with embedded etcd.
type testCluster struct {
	etcd    *harness.Etcd
	dcs     *dcs.DCS // a reader of the cluster's keys
	members []*member
}

// startCluster starts a primary with PostgreSQL's defaults, n-1 streaming
// standbys cloned from it, writes the config key (when config is not nil),
// and starts their agents, the primary's first.
func startCluster(t *testing.T, n int, config map[string]any, opts func(*Options)) *testCluster {
	t.Helper()
	e := harness.StartEtcd(t)
	d, err := dcs.New(dcs.Options{Client: e.Client, Cluster: "main", Name: "test-reader", TTL: DefaultTTL})
	if err != nil {
		t.Fatal(err)
	}
	if config != nil {
		if _, err := d.SetConfig(t.Context(), config, 0); err != nil {
			t.Fatal(err)
		}
	}
	primary := harness.StartPostgres(t, harness.PGOptions{})
	servers := []*harness.Postgres{primary}
	for range n - 1 {
		servers = append(servers, harness.StartStandby(t, primary, nil))
	}
	tc := &testCluster{etcd: e, dcs: d}
	for i, p := range servers {
		m := startMemberWith(t, e, string(rune('a'+i)), p, opts)
		tc.members = append(tc.members, m)
		if i == 0 {
			waitChecks(t, 30*time.Second, map[*member]map[string]int{m: {"/primary": 200}})
		}
	}
	return tc
}

// member returns the member called name.
func (tc *testCluster) member(name string) *member {
	i := slices.IndexFunc(tc.members, func(m *member) bool { return m.name == name })
	if i < 0 {
		return nil
	}
	return tc.members[i]
}

// cluster reads the cluster's keys.
func (tc *testCluster) cluster(t *testing.T) dcs.Cluster {
	t.Helper()
	c, err := tc.dcs.Cluster(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitSteady waits until a member leads as primary, every other member
// streams from it, and, with sync, the sync key names the leader and one
// of them as the synchronous standby. It returns the leader and the
// synchronous standby's name.
func (tc *testCluster) waitSteady(t *testing.T, timeout time.Duration, sync bool) (*member, string) {
	t.Helper()
	var leader *member
	var standby string
	harness.Wait(t, timeout, "one primary, every other member streaming from it", func() (bool, error) {
		c, err := tc.dcs.Cluster(t.Context())
		if err != nil {
			return false, err
		}
		leader = tc.member(c.LeaderName())
		if leader == nil {
			return false, fmt.Errorf("no leader")
		}
		if sync {
			if c.Sync == nil || c.Sync.Leader != leader.name || len(c.Sync.Standbys()) != 1 {
				return false, fmt.Errorf("sync key %+v", c.Sync)
			}
			standby = c.Sync.Standbys()[0]
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		v, err := leader.pg.TryQueryString(ctx, `SELECT pg_is_in_recovery()::text || ' ' ||
			coalesce(string_agg(application_name || ':' || sync_state, ',' ORDER BY application_name), '')
			FROM pg_stat_replication WHERE state = 'streaming'`)
		if err != nil {
			return false, err
		}
		var want []string
		for _, m := range tc.members {
			if m != leader {
				st := "async"
				if m.name == standby {
					st = "sync"
				}
				want = append(want, m.name+":"+st)
			}
		}
		if got := "false " + joinComma(want); v != got {
			return false, fmt.Errorf("leader %s: %q, want %q", leader.name, v, got)
		}
		// Each replica streams and replays the leader's timeline (one that
		// diverged streams it too, and cannot replay it).
		walfile, err := leader.pg.TryQueryString(ctx, "SELECT pg_walfile_name(pg_current_wal_lsn())")
		if err != nil {
			return false, err
		}
		tli, _ := strconv.ParseUint(walfile[:8], 16, 32)
		for _, m := range tc.members {
			if m == leader {
				continue
			}
			v, err := m.pg.TryQueryString(ctx, "SELECT status FROM pg_stat_wal_receiver")
			if err != nil || v != "streaming" {
				return false, fmt.Errorf("%s: WAL receiver %q (%v)", m.name, v, err)
			}
			if replayed, _, err := m.agent.pg.identify(ctx); err != nil || uint64(replayed) != tli {
				return false, fmt.Errorf("%s: replays timeline %d, the leader writes %d (%v)", m.name, replayed, tli, err)
			}
		}
		return true, nil
	})
	return leader, standby
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// crash kills the member hard: its agent stops without a clean shutdown
// (its lease runs out in etcd), then its PostgreSQL is killed -9.
func (m *member) crash(t *testing.T) {
	t.Helper()
	m.agent.abandon.Store(true)
	m.stop(t)
	m.pg.Kill(t)
}

// writer inserts unique ids, one per transaction, into the primary, and
// records the ids whose commit was acknowledged. When a write fails it
// looks for the member that accepts writes, whichever it is.
type writer struct {
	members []*member
	mu      sync.Mutex
	acks    []ack
	errs    int
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type ack struct {
	id     int64
	member string
	at     time.Time
}

func startWriter(t *testing.T, members []*member) *writer {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writer{members: members, cancel: cancel}
	w.wg.Go(func() { w.run(ctx) })
	t.Cleanup(w.stop)
	return w
}

func (w *writer) stop() { w.cancel(); w.wg.Wait() }

func (w *writer) run(ctx context.Context) {
	var conn *pgx.Conn
	var on string
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for id := int64(1); ctx.Err() == nil; id++ {
		if conn == nil {
			conn, on = w.findPrimary(ctx)
			if conn == nil {
				sleep(ctx, 20*time.Millisecond)
				continue
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := conn.Exec(cctx, "INSERT INTO acked (id) VALUES ($1)", id)
		cancel()
		w.mu.Lock()
		if err == nil {
			w.acks = append(w.acks, ack{id: id, member: on, at: time.Now()})
		} else {
			w.errs++
		}
		w.mu.Unlock()
		if err != nil {
			conn.Close(context.Background())
			conn = nil
		}
		sleep(ctx, 2*time.Millisecond)
	}
}

// findPrimary connects to the member that runs as primary.
func (w *writer) findPrimary(ctx context.Context) (*pgx.Conn, string) {
	for _, m := range w.members {
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		c, err := m.pg.Connect(cctx)
		if err == nil {
			var recovery bool
			if err = c.QueryRow(cctx, "SELECT pg_is_in_recovery()").Scan(&recovery); err == nil && !recovery {
				cancel()
				return c, m.name
			}
			c.Close(context.Background())
		}
		cancel()
	}
	return nil, ""
}

// firstAckAfter is the first write member acknowledged after t0 ("": any
// member), and how many writes were acknowledged after t0.
func (w *writer) firstAckAfter(t0 time.Time, member string) (ack, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := slices.IndexFunc(w.acks, func(a ack) bool { return a.at.After(t0) && (member == "" || a.member == member) })
	if i < 0 {
		return ack{}, 0
	}
	return w.acks[i], len(w.acks) - i
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// TestSynchronousModeFailovers: synchronous mode (from the config key), three
// members, ten consecutive failovers, each killing the primary's member hard
// (agent and PostgreSQL) under a writer that records every acknowledged
// commit. Every time, the synchronous standby takes over; the old primary
// comes back, is rewound and rejoins; at the end every acknowledged commit
// is on the last primary.
func TestSynchronousModeFailovers(t *testing.T) {
	const rounds = 10
	tc := startCluster(t, 3, map[string]any{"synchronous_mode": true}, nil)
	leader, standby := tc.waitSteady(t, 60*time.Second, true)
	leader.pg.Exec(t, "CREATE TABLE acked (id bigint PRIMARY KEY)")
	w := startWriter(t, tc.members)

	var failovers, rejoins []time.Duration
	for round := 1; round <= rounds; round++ {
		harness.Wait(t, 30*time.Second, "acknowledged writes before the kill", func() (bool, error) {
			_, n := w.firstAckAfter(time.Now().Add(-time.Second), "")
			return n > 10, nil
		})
		killed := time.Now()
		leader.crash(t)
		var next dcs.Cluster
		harness.Wait(t, 60*time.Second, "a new leader", func() (bool, error) {
			next = tc.cluster(t)
			return next.LeaderName() != "" && next.LeaderName() != leader.name, nil
		})
		if next.LeaderName() != standby {
			t.Fatalf("round %d: %s took over, but the synchronous standby was %s", round, next.LeaderName(), standby)
		}
		var first ack
		harness.Wait(t, 60*time.Second, "a write acknowledged by the new primary", func() (bool, error) {
			first, _ = w.firstAckAfter(killed, standby)
			return first.member == standby, nil
		})
		failovers = append(failovers, first.at.Sub(killed))
		back := time.Now()
		leader.start(t)
		old := leader.name
		leader, standby = tc.waitSteady(t, 60*time.Second, true)
		rejoins = append(rejoins, time.Since(back))
		t.Logf("round %d: %s killed; %s took over; first write acknowledged after %s; %s rejoined within %s; synchronous standby now %s",
			round, old, leader.name, failovers[len(failovers)-1].Round(time.Millisecond), old,
			rejoins[len(rejoins)-1].Round(time.Millisecond), standby)
	}
	w.stop()

	conn := leader.pg.Conn(t)
	rows, err := conn.Query(t.Context(), "SELECT id FROM acked")
	if err != nil {
		t.Fatal(err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	present := map[int64]bool{}
	for _, id := range have {
		present[id] = true
	}
	var lost []int64
	for _, a := range w.acks {
		if !present[a.id] {
			lost = append(lost, a.id)
		}
	}
	t.Logf("%d commits acknowledged (%d writes failed or were cut off), %d rows on the final primary %s; failover (kill to first acknowledged write) median %s max %s; rejoin median %s max %s",
		len(w.acks), w.errs, len(have), leader.name, median(failovers), slices.Max(failovers).Round(time.Millisecond),
		median(rejoins), slices.Max(rejoins).Round(time.Millisecond))
	if len(lost) > 0 {
		t.Fatalf("%d acknowledged commits lost, e.g. ids %v", len(lost), lost[:min(len(lost), 10)])
	}

	// Strict mode: with no standby left, writes wait rather than run
	// unprotected, and go on when a standby comes back.
	c := tc.cluster(t)
	if _, err := tc.dcs.SetConfig(t.Context(), map[string]any{"synchronous_mode": true, "synchronous_mode_strict": true}, c.Config.ModRevision); err != nil {
		t.Fatal(err)
	}
	var replicas []*member
	for _, m := range tc.members {
		if m != leader {
			m.crash(t)
			replicas = append(replicas, m)
		}
	}
	harness.Wait(t, 30*time.Second, "strict mode without a standby", func() (bool, error) {
		c := tc.cluster(t)
		v, err := leader.pg.TryQueryString(t.Context(), "SHOW synchronous_standby_names")
		return c.Sync != nil && c.Sync.Leader == leader.name && c.Sync.SyncStandby == "" && v == "*", err
	})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	_, err = conn.Exec(ctx, "INSERT INTO acked (id) VALUES (-1)")
	cancel()
	if err == nil {
		t.Fatal("strict mode without a standby: a write was acknowledged")
	}
	t.Logf("strict mode without a standby: the write waits (%v)", err)
	conn = leader.pg.Conn(t)
	replicas[0].start(t)
	ctx, cancel = context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := conn.Exec(ctx, "INSERT INTO acked (id) VALUES (-2)"); err != nil {
		t.Fatalf("strict mode: a write once %s is back: %v", replicas[0].name, err)
	}
	t.Logf("strict mode: a write acknowledged %s after %s's agent started again", time.Since(start).Round(time.Millisecond), replicas[0].name)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Millisecond)
}

// slotLSN reads a physical slot's restart_lsn on a member, 0 when it does
// not exist or reserves nothing.
func slotLSN(t *testing.T, m *member, slot string) pg.LSN {
	t.Helper()
	v, err := m.pg.TryQueryString(t.Context(), "SELECT coalesce((SELECT restart_lsn::text FROM pg_replication_slots WHERE slot_name = $1), '0/0')", slot)
	if err != nil {
		return 0
	}
	lsn, _ := pg.ParseLSN(v)
	return lsn
}

// receiver is pg_receivewal streaming a member's WAL into a directory
// through a replication slot, like the repository server's receiver.
type receiver struct {
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{}
}

func startReceiver(t *testing.T, m *member, dir, slot string) *receiver {
	t.Helper()
	r := &receiver{done: make(chan struct{})}
	r.cmd = harness.PGCommand(context.Background(), harness.PGBin("pg_receivewal"), "-D", dir, "-h", m.pg.Host,
		"-p", fmt.Sprint(m.pg.Port), "-U", "postgres", "--slot", slot, "--synchronous", "-s", "1", "-n", "-v")
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := r.cmd.Wait()
		fmt.Fprintf(&r.out, "[exit: %v]", err)
		close(r.done)
	}()
	t.Cleanup(func() { r.stop() })
	return r
}

// exited reports whether pg_receivewal ended.
func (r *receiver) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// stop interrupts pg_receivewal (it flushes and exits) and returns its
// output.
func (r *receiver) stop() string {
	if !r.exited() {
		_ = r.cmd.Process.Signal(os.Interrupt)
		<-r.done
	}
	return r.out.String()
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// segments lists the WAL segment numbers of the complete or partial
// segment files in dir, on any timeline.
func segments(t *testing.T, dir string) []uint64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	set := map[uint64]bool{}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".partial")
		if len(name) != 24 {
			continue
		}
		hi, err1 := strconv.ParseUint(name[8:16], 16, 32)
		lo, err2 := strconv.ParseUint(name[16:24], 16, 32)
		if err1 == nil && err2 == nil {
			set[hi<<8|lo] = true // 16 MB segments: 256 per log file
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// TestPermanentSlotSurvivesFailover: a permanent slot (the repository
// server's receiver's) exists on the primary and on both replicas, which
// advance it to the position the primary publishes; a consumer streams
// through it; the primary's member dies; on the new primary the slot is
// where the consumer left it, and the consumer continues from there across
// the timeline switch, although the new primary checkpointed and removed
// the WAL nothing else held.
func TestPermanentSlotSurvivesFailover(t *testing.T) {
	const slot = "pgkeep"
	tc := startCluster(t, 3, nil, func(o *Options) {
		o.PermanentSlots = []string{slot}
		o.Parameters = map[string]string{"wal_keep_size": "0"} // WAL no slot holds goes at a checkpoint
	})
	leader, _ := tc.waitSteady(t, 60*time.Second, false)
	for _, m := range tc.members {
		harness.Wait(t, 30*time.Second, "the permanent slot on "+m.name, func() (bool, error) { return slotLSN(t, m, slot) != 0, nil })
	}
	dir := filepath.Join(harness.Dir(t), "wal")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	harness.Chown(t, dir)

	rcv := startReceiver(t, leader, dir, slot)
	leader.pg.Exec(t, "CREATE TABLE filler (x text)")
	for range 3 {
		leader.pg.Exec(t, "INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 2000)")
		leader.pg.Exec(t, "SELECT pg_switch_wal()")
	}
	// Not at a segment's start: pg_receivewal asked to start exactly at a
	// timeline's switch point fails (PostgreSQL's walsender then answers
	// without streaming), which is no matter of slots.
	leader.pg.Exec(t, "INSERT INTO filler VALUES ('end')")
	end, err := pg.ParseLSN(leader.pg.QueryString(t, "SELECT pg_current_wal_lsn()::text"))
	if err != nil {
		t.Fatal(err)
	}
	harness.Wait(t, 30*time.Second, "the consumer to confirm the WAL", func() (bool, error) { return slotLSN(t, leader, slot) >= end, nil })
	t.Logf("pg_receivewal: %s", rcv.stop())
	consumed := slotLSN(t, leader, slot)
	for _, m := range tc.members {
		if m != leader {
			harness.Wait(t, 30*time.Second, "the replica "+m.name+" to advance its copy of the slot", func() (bool, error) {
				return slotLSN(t, m, slot) >= consumed, nil
			})
		}
	}
	c := tc.cluster(t)
	if got := pg.LSN(c.Status.Slots[slot]); got != consumed {
		t.Errorf("status key: slot %s at %s, want %s", slot, got, consumed)
	}

	killed := time.Now()
	leader.crash(t)
	var next *member
	harness.Wait(t, 60*time.Second, "a new primary", func() (bool, error) {
		next = tc.member(tc.cluster(t).LeaderName())
		if next == nil || next == leader {
			return false, nil
		}
		v, err := next.pg.TryQueryString(t.Context(), "SELECT pg_is_in_recovery()::text")
		return v == "false", err
	})
	t.Logf("%s took over %s after the kill", next.name, time.Since(killed).Round(time.Millisecond))
	got := slotLSN(t, next, slot)
	t.Logf("slot %s: at %s on the old primary, at %s on the new primary %s", slot, consumed, got, next.name)
	switch {
	case got == 0:
		t.Fatalf("no slot %s on the new primary", slot)
	case got < consumed:
		t.Errorf("the slot on the new primary is at %s, behind the old primary's %s", got, consumed)
	case got > consumed:
		t.Errorf("the slot on the new primary is at %s, past where its consumer stopped (%s): WAL gap", got, consumed)
	}

	// The other slots on the new primary (the remaining replica's, created
	// at the promotion from the last restartpoint) must not hold older WAL
	// than the permanent slot, or the checkpoint below could not show a
	// gap: wait until the replica streams from the new primary and its
	// slot has moved past the permanent slot's position.
	harness.Wait(t, 30*time.Second, "every slot on the new primary at or past "+got.String(), func() (bool, error) {
		v, err := next.pg.TryQueryString(t.Context(), "SELECT coalesce(min(restart_lsn), '0/0')::text FROM pg_replication_slots")
		if err != nil {
			return false, err
		}
		oldest, err := pg.ParseLSN(v)
		return err == nil && oldest >= got, fmt.Errorf("oldest slot at %s", v)
	})

	// The new primary writes and checkpoints: what no slot holds goes.
	for range 3 {
		next.pg.Exec(t, "INSERT INTO filler SELECT repeat('y', 1000) FROM generate_series(1, 2000)")
		next.pg.Exec(t, "SELECT pg_switch_wal()")
	}
	next.pg.Exec(t, "CHECKPOINT")
	oldest := next.pg.QueryString(t, "SELECT min(name) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'")
	end, err = pg.ParseLSN(next.pg.QueryString(t, "SELECT pg_current_wal_lsn()::text"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the new primary's oldest WAL segment after the checkpoint: %s", oldest)
	if want := pg.SegmentOf(1, got, 16<<20); len(oldest) != 24 || oldest[8:] > want[8:] {
		t.Fatalf("the new primary removed WAL the slot holds: oldest segment %s, the slot at %s", oldest, got)
	} else if oldest[8:] < want[8:] {
		t.Fatalf("the new primary kept WAL older than the slot holds (oldest %s, the slot at %s): this test would not see a gap", oldest, got)
	}

	rcv = startReceiver(t, next, dir, slot)
	harness.Wait(t, 30*time.Second, "the consumer to continue on the new primary", func() (bool, error) {
		if rcv.exited() {
			return false, fmt.Errorf("pg_receivewal exited: %s", rcv.out.String())
		}
		return slotLSN(t, next, slot) >= end, nil
	})
	t.Logf("pg_receivewal: %s", rcv.stop())
	segs := segments(t, dir)
	for i := 1; i < len(segs); i++ {
		if segs[i] != segs[i-1]+1 {
			t.Fatalf("WAL gap in the consumer's directory: segment %X follows %X", segs[i], segs[i-1])
		}
	}
	t.Logf("the consumer holds segments %X to %X, without a gap", segs[0], segs[len(segs)-1])
}
