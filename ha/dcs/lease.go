package dcs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Renewal is the outcome of a lease renewal.
type Renewal struct {
	// Lease is the lease renewed (or granted).
	Lease clientv3.LeaseID
	// SentAt is when the request was sent, on this process's monotonic
	// clock. etcd counts the TTL from when it received the request, which
	// is later: a deadline counted from SentAt never ends after etcd's.
	SentAt time.Time
	// Granted is true when there was no lease and a new one was granted:
	// keys attached to a previous lease are gone.
	Granted bool
	// TTL is the time to live etcd reports from now on.
	TTL time.Duration
}

// Lease returns the member's current lease, 0 when it has none.
func (d *DCS) Lease() clientv3.LeaseID {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lease
}

// KeepAlive renews the member's lease once, or grants a lease when it has
// none (at first, or after it was lost). A lease that etcd no longer knows
// is forgotten and the error wraps [ErrLeaseLost]: the member key and the
// leader key went with it; the next call grants a new lease.
func (d *DCS) KeepAlive(ctx context.Context) (Renewal, error) {
	d.renew.Lock()
	defer d.renew.Unlock()
	lease := d.Lease()
	cctx, cancel := d.call(ctx)
	defer cancel()
	sent := time.Now()
	if lease == 0 {
		resp, err := d.cli.Grant(cctx, LeaseSeconds(d.ttl))
		if err != nil {
			return Renewal{}, fmt.Errorf("grant a %s lease in etcd: %w", d.ttl, err)
		}
		d.setLease(0, resp.ID)
		return Renewal{Lease: resp.ID, SentAt: sent, Granted: true, TTL: LeaseDuration(resp.TTL)}, nil
	}
	resp, err := d.cli.KeepAliveOnce(cctx, lease)
	if errors.Is(err, rpctypes.ErrLeaseNotFound) || err == nil && resp.TTL <= 0 {
		d.setLease(lease, 0)
		return Renewal{}, fmt.Errorf("renew lease %x: %w (expired or revoked in etcd)", int64(lease), ErrLeaseLost)
	}
	if err != nil {
		return Renewal{}, fmt.Errorf("renew lease %x in etcd: %w", int64(lease), err)
	}
	return Renewal{Lease: lease, SentAt: sent, TTL: LeaseDuration(resp.TTL)}, nil
}

// Revoke ends the member's lease at once: etcd deletes its member key and,
// if it holds it, the leader key. Without a lease it does nothing.
func (d *DCS) Revoke(ctx context.Context) error {
	lease := d.Lease()
	if lease == 0 {
		return nil
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	_, err := d.cli.Revoke(cctx, lease)
	if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("revoke lease %x in etcd: %w", int64(lease), err)
	}
	d.setLease(lease, 0)
	return nil
}

// setLease replaces the lease old with lease, unless another call replaced
// it meanwhile.
func (d *DCS) setLease(old, lease clientv3.LeaseID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lease == old {
		d.lease = lease
	}
}

// writeErr wraps the error of a write attached to lease: a lease etcd does
// not know is forgotten, and the error wraps ErrLeaseLost.
func (d *DCS) writeErr(what string, lease clientv3.LeaseID, err error) error {
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		d.setLease(lease, 0)
		return fmt.Errorf("%s: %w (lease %x expired or revoked in etcd)", what, ErrLeaseLost, int64(lease))
	}
	return fmt.Errorf("%s in etcd: %w", what, err)
}

// leaseOrLost returns the current lease, or an error wrapping ErrLeaseLost
// when there is none.
func (d *DCS) leaseOrLost(what string) (clientv3.LeaseID, error) {
	lease := d.Lease()
	if lease == 0 {
		return 0, fmt.Errorf("%s: %w (no lease: renew first)", what, ErrLeaseLost)
	}
	return lease, nil
}
