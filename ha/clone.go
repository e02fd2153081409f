package ha

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/restore"
)

// createReplica makes the (empty) data directory a replica of the leader:
// from the newest backup in the repository (ReplicaBackup; PostgreSQL then
// recovers from the archive and streams from the leader), else, or when
// there is no usable backup, with pg_basebackup from the leader. It does
// not start PostgreSQL: the next turn starts it as a standby of the leader.
func (a *Agent) createReplica(ctx context.Context, c dcs.Cluster, leader string) error {
	m, ok := c.Member(leader)
	if !ok {
		return fmt.Errorf("create a replica: the leader %s has no member key", leader)
	}
	a.touchCreating(ctx, c)
	start := time.Now()
	if err := a.pg.prepareDataDir(); err != nil {
		return err
	}
	method := a.o.ReplicaMethod
	if method == ReplicaBackup {
		if err := a.restoreReplica(ctx, c.Initialize); err != nil {
			if ctx.Err() != nil {
				return err
			}
			a.log.Warn("cannot create the replica from a backup: using pg_basebackup from the leader", "leader", leader, "err", err)
			method = ReplicaBasebackup
			if err := a.pg.wipe(); err != nil {
				return err
			}
		}
	}
	if method == ReplicaBasebackup {
		if err := a.basebackup(ctx, m.Data); err != nil {
			return err
		}
	}
	a.log.Info("replica created", "method", method, "leader", leader, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// errNoBackup: the repository holds no backup to create a replica from.
var errNoBackup = errors.New("no backup")

// restoreReplica restores the newest backup of the cluster as a standby
// (standby.signal, restore_command). A backup of another system than the
// cluster's (the initialize key's) is not used.
func (a *Agent) restoreReplica(ctx context.Context, sysid string) error {
	if a.o.Repo == nil {
		return errNoBackup
	}
	info, err := a.o.Repo.Cluster(ctx, a.o.Cluster)
	if err != nil {
		return err
	}
	if sysid != "" && fmt.Sprint(info.SystemID) != sysid {
		return fmt.Errorf("the repository's cluster %s has system identifier %d, this cluster %s", a.o.Cluster, info.SystemID, sysid)
	}
	res, err := restore.Run(ctx, a.o.Repo, info, restore.Options{PGData: a.pg.dataDir, Type: restore.TypeStandby,
		RestoreCommand: a.o.RestoreCommand, Logger: a.log})
	if errors.Is(err, repo.ErrNoBackup) {
		return fmt.Errorf("%w: %v", errNoBackup, err)
	}
	if err != nil {
		return err
	}
	a.log.Info("replica restored from backup", "backup", res.Label, "files", res.Files, "bytes", res.Bytes,
		"took", res.Duration.Round(time.Millisecond))
	return nil
}

// basebackup copies the leader with pg_basebackup (WAL streamed along, a
// fast checkpoint).
func (a *Agent) basebackup(ctx context.Context, leader dcs.MemberData) error {
	ci, err := a.conninfo(leader, "application_name="+a.o.Name)
	if err != nil {
		return err
	}
	if _, err := a.pg.run(ctx, "pg_basebackup", "-D", a.pg.dataDir, "-X", "stream", "-c", "fast", "-d", ci); err != nil {
		return err
	}
	a.log.Info("replica copied with pg_basebackup", "from", leader.ConnURL)
	return nil
}

// recreate throws the data directory away and creates the replica again
// (after a failed pg_rewind, or on request): stop, wipe, clone.
func (a *Agent) recreate(ctx context.Context, c dcs.Cluster, leader string) error {
	if err := a.pg.Stop(ctx, "immediate"); err != nil {
		return fmt.Errorf("re-create the replica: %w", err)
	}
	a.setPrimary(false)
	if err := a.pg.wipe(); err != nil {
		return fmt.Errorf("re-create the replica: %w", err)
	}
	return a.createReplica(ctx, c, leader)
}

// touchCreating publishes the member key as creating a replica.
func (a *Agent) touchCreating(ctx context.Context, c dcs.Cluster) {
	s := c.Settings(a.o.settings())
	m := a.memberData(pgState{}, s)
	m.State, m.Role = dcs.StateCreatingReplica, dcs.RoleUninitialized
	if err := a.dcs.TouchMember(ctx, m); err != nil {
		a.warn(ctx, "cannot write the member key", err)
	}
}
