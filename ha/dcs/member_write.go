package dcs

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// memberWrite returns what writing this member's key takes: the key, the
// lease it is attached to (an error wrapping ErrLeaseLost without one) and
// data encoded. verb names the write in errors.
func (d *DCS) memberWrite(verb string, data MemberData) (string, clientv3.LeaseID, string, error) {
	key := d.keys.Member(d.name)
	lease, err := d.leaseOrLost(verb + " member key " + key)
	if err != nil {
		return "", 0, "", err
	}
	value, err := data.Encode()
	return key, lease, value, err
}

// TouchMember writes this member's key, attached to its lease.
func (d *DCS) TouchMember(ctx context.Context, data MemberData) error {
	key, lease, value, err := d.memberWrite("write", data)
	if err != nil {
		return err
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	if _, err := d.cli.Put(cctx, key, value, clientv3.WithLease(lease)); err != nil {
		return d.writeErr("write member key "+key, lease, err)
	}
	return nil
}

// Register writes this member's key for the first time. It refuses, with
// an error wrapping [ErrNameInUse], when a live key of that name exists
// under another lease and names another conn_url or api_url: two agents
// configured with the same name would otherwise take turns overwriting
// each other's key and leader key. The agent's own previous run (same
// URLs, lease not yet expired) is taken over.
func (d *DCS) Register(ctx context.Context, data MemberData) error {
	key, lease, value, err := d.memberWrite("register", data)
	if err != nil {
		return err
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	resp, err := d.cli.Txn(cctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, value, clientv3.WithLease(lease))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return d.writeErr("register member key "+key, lease, err)
	}
	if resp.Succeeded {
		return nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) > 0 && kvs[0].Lease != int64(lease) {
		old, _ := ParseMemberData(kvs[0].Value)
		if old.ConnURL != data.ConnURL || old.APIURL != data.APIURL {
			return fmt.Errorf("register member %s: %w by a running member at %s (api %s): give each member its own name",
				d.name, ErrNameInUse, old.ConnURL, old.APIURL)
		}
		d.log.Info("taking over the member key of a previous run", "key", key)
	}
	return d.TouchMember(ctx, data)
}
