package ha

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/pgkeep/pgkeep/pg"
)

// identityTTL is how long the server's identity is reused before it is
// read again (a restart changes its start time).
const identityTTL = 30 * time.Second

// pgIdentity is what GET /patroni tells about the server besides its state.
type pgIdentity struct {
	ServerVersion int
	SystemID      string
	StartTime     time.Time
}

// identity reads the server's version, system identifier and start time.
func (p *postgres) identity(ctx context.Context) (pgIdentity, error) {
	conn, err := pg.Connect(ctx, p.conn)
	if err != nil {
		return pgIdentity{}, fmt.Errorf("identity: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var id pgIdentity
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int,
		(SELECT system_identifier::text FROM pg_control_system()), pg_postmaster_start_time()`).
		Scan(&id.ServerVersion, &id.SystemID, &id.StartTime)
	if err != nil {
		return pgIdentity{}, fmt.Errorf("identity: %w", err)
	}
	return id, nil
}

// refreshIdentity reads the identity when it is older than identityTTL,
// and records that etcd answered at seen (zero: it did not).
func (a *Agent) refreshIdentity(ctx context.Context, running bool, seen time.Time) {
	a.mu.Lock()
	if !seen.IsZero() {
		a.dcsSeen = seen
	}
	stale := running && time.Since(a.identAt) > identityTTL
	a.mu.Unlock()
	if !stale {
		return
	}
	id, err := a.pg.identity(ctx)
	if err != nil {
		a.log.Debug("cannot read the server's identity", "err", err)
		return
	}
	a.mu.Lock()
	a.ident, a.identAt = id, time.Now()
	a.mu.Unlock()
}

// identityNow returns the last identity and when etcd last answered.
func (a *Agent) identityNow() (pgIdentity, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ident, a.dcsSeen
}

// agentVersion is the pgkeep module's version, for the status JSON.
func agentVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
