package dcs

import "context"

// ClaimInitialize creates the initialize key with an empty value, only if
// it does not exist: of the members racing to bootstrap a new cluster,
// exactly one wins and gets the key's revision; the others get an error
// wrapping [ErrConflict]. The winner sets the system identifier with
// [DCS.SetInitialize] once it is known (Patroni's semantics: an empty
// initialize key means a bootstrap is under way), or gives up with
// [DCS.CancelInitialize].
func (d *DCS) ClaimInitialize(ctx context.Context) (int64, error) {
	return d.cas(ctx, "claim initialize key", d.keys.Initialize(), "", 0, false)
}

// SetInitialize writes the system identifier into the initialize key at
// the expected revision rev (the claim's, or [AnyRevision]).
func (d *DCS) SetInitialize(ctx context.Context, sysid string, rev int64) error {
	_, err := d.cas(ctx, "write initialize key", d.keys.Initialize(), sysid, rev, false)
	return err
}

// CancelInitialize removes the initialize key written at revision rev: a
// bootstrap failed, and another member may try.
func (d *DCS) CancelInitialize(ctx context.Context, rev int64) error {
	return d.casDelete(ctx, "cancel initialize key", d.keys.Initialize(), rev, false)
}
