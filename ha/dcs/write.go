package dcs

import (
	"context"
	"encoding/json"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Initialize writes the initialize key (the system identifier) at the
// expected revision rev: 0 creates it only if it does not exist (the race
// of the first members for the right to bootstrap), [AnyRevision] sets it.
// A lost compare wraps [ErrConflict].
func (d *DCS) Initialize(ctx context.Context, sysid string, rev int64) error {
	_, err := d.cas(ctx, "write initialize key", d.keys.Initialize(), sysid, rev, false)
	return err
}

// SetConfig writes the dynamic configuration at the expected revision rev
// (the ModRevision read; 0: only if absent; AnyRevision).
func (d *DCS) SetConfig(ctx context.Context, data map[string]any, rev int64) (int64, error) {
	value, err := encodeConfig(data)
	if err != nil {
		return 0, err
	}
	return d.cas(ctx, "write config key", d.keys.Config(), value, rev, false)
}

// SetFailover writes a switchover/failover request at the expected revision
// rev (f.ModRevision is ignored).
func (d *DCS) SetFailover(ctx context.Context, f Failover, rev int64) (int64, error) {
	value, err := f.encode()
	if err != nil {
		return 0, err
	}
	return d.cas(ctx, "write failover key", d.keys.Failover(), value, rev, false)
}

// DeleteFailover removes the failover request if it is still at revision
// rev (AnyRevision: whatever it is).
func (d *DCS) DeleteFailover(ctx context.Context, rev int64) error {
	return d.casDelete(ctx, "delete failover key", d.keys.Failover(), rev, false)
}

// SetSync writes the synchronous replication state at the expected revision
// rev, and only while this member holds the leader key with its lease: a
// deposed leader can never name the synchronous standby. It returns the new
// revision.
func (d *DCS) SetSync(ctx context.Context, s SyncState, rev int64) (int64, error) {
	value, err := s.encode()
	if err != nil {
		return 0, err
	}
	return d.cas(ctx, "write sync key", d.keys.Sync(), value, rev, true)
}

// DeleteSync removes the synchronous replication state at the expected
// revision rev, only while this member leads.
func (d *DCS) DeleteSync(ctx context.Context, rev int64) error {
	return d.casDelete(ctx, "delete sync key", d.keys.Sync(), rev, true)
}

// SetHistory writes the timeline history, only while this member leads.
func (d *DCS) SetHistory(ctx context.Context, entries []HistoryEntry) error {
	if entries == nil {
		entries = []HistoryEntry{}
	}
	b, err := json.Marshal(entries)
	if err != nil {
		return fmt.Errorf("encode history: %w", err)
	}
	_, err = d.cas(ctx, "write history key", d.keys.History(), string(b), AnyRevision, true)
	return err
}

// SetStatus writes the leader's status, only while this member leads.
func (d *DCS) SetStatus(ctx context.Context, s Status) error {
	value, err := s.encode()
	if err != nil {
		return err
	}
	_, err = d.cas(ctx, "write status key", d.keys.Status(), value, AnyRevision, true)
	return err
}

// cas puts value at key if the key is at revision rev and, with
// leaderOnly, this member holds the leader key with its lease. It returns
// the revision written.
func (d *DCS) cas(ctx context.Context, what, key, value string, rev int64, leaderOnly bool) (int64, error) {
	return d.txn(ctx, what, key, rev, leaderOnly, clientv3.OpPut(key, value))
}

// casDelete deletes key under the same conditions as cas.
func (d *DCS) casDelete(ctx context.Context, what, key string, rev int64, leaderOnly bool) error {
	_, err := d.txn(ctx, what, key, rev, leaderOnly, clientv3.OpDelete(key))
	return err
}

// txn runs op if key is at revision rev (see AnyRevision) and, with
// leaderOnly, this member leads. A failed compare wraps ErrNotLeader when
// the leader compare failed, else ErrConflict.
func (d *DCS) txn(ctx context.Context, what, key string, rev int64, leaderOnly bool, op clientv3.Op) (int64, error) {
	var cmps []clientv3.Cmp
	switch {
	case rev == 0:
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(key), "=", 0))
	case rev > 0:
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", rev))
	}
	var lease clientv3.LeaseID
	if leaderOnly {
		var err error
		if lease, err = d.leaseOrLost(what); err != nil {
			return 0, err
		}
		cmps = append(cmps,
			clientv3.Compare(clientv3.Value(d.keys.Leader()), "=", d.name),
			clientv3.Compare(clientv3.LeaseValue(d.keys.Leader()), "=", lease))
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	resp, err := d.cli.Txn(cctx).If(cmps...).Then(op).Else(clientv3.OpGet(d.keys.Leader()), clientv3.OpGet(key)).Commit()
	if err != nil {
		return 0, fmt.Errorf("%s %s in etcd: %w", what, key, err)
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil
	}
	if leaderOnly {
		kvs := resp.Responses[0].GetResponseRange().GetKvs()
		if len(kvs) == 0 || string(kvs[0].Value) != d.name || kvs[0].Lease != int64(lease) {
			return 0, fmt.Errorf("%s %s: %w", what, key, ErrNotLeader)
		}
	}
	now := int64(0)
	if kvs := resp.Responses[1].GetResponseRange().GetKvs(); len(kvs) > 0 {
		now = kvs[0].ModRevision
	}
	return 0, fmt.Errorf("%s %s: %w (expected revision %d, found %d)", what, key, ErrConflict, rev, now)
}
