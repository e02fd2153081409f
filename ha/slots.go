package ha

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
)

// Replication slots. The primary keeps a physical slot for every other
// member (named by slotName), so that a replica never misses WAL it has not
// received; replicas stream through it (primary_slot_name). Permanent slots
// (Options.PermanentSlots and the config key's "slots" of type physical,
// e.g. the repository server's receiver slot) exist on every member: the
// primary publishes their positions in the status key's "slots", and each
// replica advances its copy to that position (never past what it has
// replayed), so that after a failover the slot's consumer finds on the new
// primary every WAL record from its position on.

// slotName is a member's replication slot name, as Patroni derives it:
// lowercased, '-' and '.' become '_', any other character outside a-z, 0-9
// and '_' becomes u and its code point in 4+ decimal digits; at most 63
// bytes. Different names may map to one slot name.
func slotName(member string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(member) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		case r == '-', r == '.':
			b.WriteByte('_')
		default:
			fmt.Fprintf(&b, "u%04d", r)
		}
	}
	s := b.String()
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

// permanentSlots are the physical slots every member keeps: the local
// configuration's and the config key's "slots" of type physical.
func (a *Agent) permanentSlots(c dcs.Cluster) []string {
	set := map[string]bool{}
	for _, s := range a.o.PermanentSlots {
		set[s] = true
	}
	if c.Config != nil {
		slots, _ := c.Config.Data["slots"].(map[string]any)
		for name, v := range slots {
			attrs, _ := v.(map[string]any)
			if t, _ := attrs["type"].(string); (t == "" || t == "physical") && pg.ValidSlotName(name) {
				set[name] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// replicationState of the agent: what it remembers between turns.
type replState struct {
	// memberSlots are the slot names of every member seen in this run: the
	// slots the agent may drop when their member is gone.
	memberSlots map[string]bool
	// namedAt: for a standby seen synchronous under its own name in
	// synchronous_standby_names (by lowercase name), the primary's WAL
	// position then. Once it has flushed that, it has every commit
	// acknowledged before it became synchronous.
	namedAt map[string]pg.LSN
	// namesSetAt is when the agent last changed synchronous_standby_names.
	namesSetAt time.Time
	// keyWritten is the etcd revision of this member's last write of the
	// sync key: an older snapshot of the cluster must not drive a step.
	keyWritten int64
	// lastSync is the last step's reason, to log changes only.
	lastSync string
}

// seeMembers records the members' slot names.
func (r *replState) seeMembers(c dcs.Cluster) {
	if r.memberSlots == nil {
		r.memberSlots = map[string]bool{}
	}
	for _, m := range c.Members {
		r.memberSlots[slotName(m.Name)] = true
	}
}

// primarySlots keeps the primary's slots: one per other member and the
// permanent ones, created when missing; the slots of members gone are
// dropped. It returns the permanent slots' positions for the status key.
func (a *Agent) primarySlots(ctx context.Context, conn *pgx.Conn, c dcs.Cluster) (map[string]uint64, error) {
	a.repl.seeMembers(c)
	have, err := physicalSlots(ctx, conn)
	if err != nil {
		return nil, err
	}
	permanent := a.permanentSlots(c)
	want := map[string]bool{}
	for _, s := range permanent {
		want[s] = true
	}
	for _, m := range c.Members {
		if m.Name != a.o.Name {
			want[slotName(m.Name)] = true
		}
	}
	var errs []error
	for name := range want {
		if _, ok := have[name]; ok {
			continue
		}
		lsn, err := createSlot(ctx, conn, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		have[name] = slot{Name: name, Restart: lsn}
		a.log.Info("created replication slot", "slot", name, "restart_lsn", lsn)
	}
	a.dropMemberSlots(ctx, conn, have, want)
	out := map[string]uint64{}
	for _, name := range permanent {
		if s, ok := have[name]; ok && s.Restart != 0 {
			out[name] = uint64(s.Restart)
		}
	}
	return out, errors.Join(errs...)
}

// ensureMemberSlots creates the slots of the other members on a standby
// about to be promoted, so that the replicas find them when they follow it.
func (a *Agent) ensureMemberSlots(ctx context.Context, conn *pgx.Conn, c dcs.Cluster) error {
	have, err := physicalSlots(ctx, conn)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range c.Members {
		name := slotName(m.Name)
		if _, ok := have[name]; ok || m.Name == a.o.Name {
			continue
		}
		if _, err := createSlot(ctx, conn, name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// replicaSlots keeps a replica's slots: the permanent ones, created when
// missing and advanced to the positions the primary publishes; the member
// slots left from when it was primary are dropped (they would hold WAL).
func (a *Agent) replicaSlots(ctx context.Context, c dcs.Cluster, replay pg.LSN) error {
	a.repl.seeMembers(c)
	return a.pg.withConn(ctx, func(conn *pgx.Conn) error {
		have, err := physicalSlots(ctx, conn)
		if err != nil {
			return err
		}
		want := map[string]bool{}
		var errs []error
		for _, name := range a.permanentSlots(c) {
			want[name] = true
			s, ok := have[name]
			if !ok {
				lsn, err := createSlot(ctx, conn, name)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				s = slot{Name: name, Restart: lsn}
				a.log.Info("created permanent replication slot on the replica", "slot", name, "restart_lsn", lsn)
			}
			// PostgreSQL clamps the target to what was replayed, and
			// refuses to move a slot back.
			target := min(pg.LSN(c.Status.Slots[name]), replay)
			if s.Active || s.Restart == 0 || target <= s.Restart {
				continue
			}
			if err := advanceSlot(ctx, conn, name, target); err != nil {
				errs = append(errs, err)
			}
		}
		a.dropMemberSlots(ctx, conn, have, want)
		return errors.Join(errs...)
	})
}

// dropMemberSlots drops the inactive slots that belong to members (seen in
// this run) and are not wanted. Slots the agent knows nothing of are left
// alone: they may be the user's.
func (a *Agent) dropMemberSlots(ctx context.Context, conn *pgx.Conn, have map[string]slot, want map[string]bool) {
	for name, s := range have {
		if want[name] || s.Active || !a.repl.memberSlots[name] {
			continue
		}
		if err := dropSlot(ctx, conn, name); err != nil {
			a.log.Warn("drop a member's replication slot", "slot", name, "err", err)
			continue
		}
		a.log.Info("dropped the replication slot of a member not streaming from here", "slot", name)
	}
}
