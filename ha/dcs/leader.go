package dcs

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// AcquireLeader takes the leader key for this member, attached to its
// lease, in a transaction that succeeds only if the key does not exist
// (CreateRevision == 0): of members racing for a free key, exactly one
// wins. It returns false and the holder's name when the key is taken.
func (d *DCS) AcquireLeader(ctx context.Context) (bool, string, error) {
	key := d.keys.Leader()
	lease, err := d.leaseOrLost("take leader key " + key)
	if err != nil {
		return false, "", err
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	resp, err := d.cli.Txn(cctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, d.name, clientv3.WithLease(lease))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return false, "", d.writeErr("take leader key "+key, lease, err)
	}
	if resp.Succeeded {
		d.log.Info("took the leader key", "key", key, "lease", fmt.Sprintf("%x", int64(lease)), "revision", resp.Header.Revision)
		return true, d.name, nil
	}
	holder := ""
	if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
		holder = string(kvs[0].Value)
	}
	return false, holder, nil
}

// UpdateLeader checks that this member holds the leader key with its
// current lease; renew the lease itself with [DCS.KeepAlive]. When the key
// holds this member's name under another lease (a previous run of this
// agent, whose lease has not expired yet), it moves the key to the current
// lease, as Patroni does. Otherwise the error wraps [ErrNotLeader]: the key
// is gone or another member holds it.
func (d *DCS) UpdateLeader(ctx context.Context) error {
	key := d.keys.Leader()
	lease, err := d.leaseOrLost("update leader key " + key)
	if err != nil {
		return err
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	ours := clientv3.Compare(clientv3.Value(key), "=", d.name)
	resp, err := d.cli.Txn(cctx).
		If(ours, clientv3.Compare(clientv3.LeaseValue(key), "=", lease)).
		Else(clientv3.OpTxn(
			[]clientv3.Cmp{ours},
			[]clientv3.Op{clientv3.OpPut(key, d.name, clientv3.WithLease(lease))},
			[]clientv3.Op{clientv3.OpGet(key)})).
		Commit()
	if err != nil {
		return d.writeErr("update leader key "+key, lease, err)
	}
	if resp.Succeeded {
		return nil
	}
	inner := resp.Responses[0].GetResponseTxn()
	if inner.GetSucceeded() {
		d.log.Warn("moved the leader key to this run's lease", "key", key, "lease", fmt.Sprintf("%x", int64(lease)))
		return nil
	}
	holder := "nobody"
	if kvs := inner.GetResponses()[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
		holder = fmt.Sprintf("%q", kvs[0].Value)
	}
	return fmt.Errorf("update leader key %s: %w (held by %s)", key, ErrNotLeader, holder)
}

// ReleaseLeader deletes the leader key if, and only if, this member still
// holds it with its current lease (compare on value and lease), so that it
// never deletes a key another member took meanwhile. It reports whether it
// deleted the key.
func (d *DCS) ReleaseLeader(ctx context.Context) (bool, error) {
	key := d.keys.Leader()
	lease := d.Lease()
	if lease == 0 {
		return false, nil // no lease, so no key of ours
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	resp, err := d.cli.Txn(cctx).
		If(clientv3.Compare(clientv3.Value(key), "=", d.name),
			clientv3.Compare(clientv3.LeaseValue(key), "=", lease)).
		Then(clientv3.OpDelete(key)).
		Commit()
	if err != nil {
		return false, fmt.Errorf("release leader key %s in etcd: %w", key, err)
	}
	if resp.Succeeded {
		d.log.Info("released the leader key", "key", key)
	}
	return resp.Succeeded, nil
}
