package ha

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/restore"
)

// bootstrap races for the initialize key and, when it wins, creates the
// cluster, starts it as primary, takes the leader key and writes the
// system identifier into the initialize key. A failed bootstrap removes
// the key again so that a member (this one included) can try again.
func (a *Agent) bootstrap(ctx context.Context) error {
	if wait := time.Until(a.boot.retryAt); wait > 0 {
		a.log.Debug("a bootstrap failed: waiting before trying again", "in", wait.Round(time.Second))
		return nil
	}
	rev, err := a.dcs.ClaimInitialize(ctx)
	if errors.Is(err, dcs.ErrConflict) {
		a.log.Info("another member won the initialize key: it bootstraps the cluster")
		return nil
	}
	if err != nil {
		return err
	}
	start := time.Now()
	a.log.Info("won the initialize key: bootstrapping the cluster", "method", a.o.Bootstrap.Method)
	sysid, err := a.createCluster(ctx)
	if err == nil {
		err = a.dcs.SetInitialize(ctx, sysid, rev)
	}
	if err != nil {
		a.abandonBootstrap(ctx, rev)
		a.boot.failed(a.o.LoopWait)
		return fmt.Errorf("bootstrap (failure %d, next try in %s): %w", a.boot.failures, time.Until(a.boot.retryAt).Round(time.Second), err)
	}
	a.boot = bootRetry{}
	ok, holder, err := a.dcs.AcquireLeader(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("bootstrap: take the leader key: %w", err)
	case !ok:
		return fmt.Errorf("bootstrap: %s took the leader key first", holder)
	}
	a.setPrimary(true)
	a.log.Info("bootstrapped the cluster", "method", a.o.Bootstrap.Method, "system_identifier", sysid,
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// abandonBootstrap stops and wipes what a failed bootstrap made, and gives
// the initialize key up.
func (a *Agent) abandonBootstrap(ctx context.Context, rev int64) {
	ctx = context.WithoutCancel(ctx)
	if err := a.pg.Stop(ctx, "immediate"); err != nil {
		a.log.Error("bootstrap failed: stopping PostgreSQL", "err", err)
	} else if err := a.pg.wipe(); err != nil {
		a.log.Error("bootstrap failed: wiping the data directory", "err", err)
	}
	if err := a.dcs.CancelInitialize(ctx, rev); err != nil {
		a.log.Error("bootstrap failed: removing the initialize key", "err", err)
	}
}

// createCluster creates the cluster in the data directory by the
// bootstrap method, leaves it running as primary, registers it in the
// repository, and returns its system identifier.
func (a *Agent) createCluster(ctx context.Context) (string, error) {
	if err := a.pg.prepareDataDir(); err != nil {
		return "", err
	}
	var err error
	if a.o.Bootstrap.Method == BootstrapBackup {
		err = a.bootstrapFromBackup(ctx)
	} else {
		err = a.initdb(ctx)
	}
	if err != nil {
		return "", err
	}
	d, err := a.pg.inspect()
	if err != nil || d.empty {
		return "", fmt.Errorf("read the new cluster's system identifier: %v", err)
	}
	return d.sysid, nil
}

// initdb creates a new cluster (with data checksums, which pg_rewind
// needs) and starts it.
func (a *Agent) initdb(ctx context.Context) error {
	out, err := a.pg.run(ctx, "initdb", "-D", a.pg.dataDir, "--data-checksums", "-U", a.o.Conn.User,
		"-A", "trust", "--encoding", "UTF8", "--no-instructions")
	if err != nil {
		return err
	}
	a.log.Info("initdb done", "pgdata", a.pg.dataDir, "output_bytes", len(out))
	if err := a.pg.writeHBA(); err != nil {
		return err
	}
	if a.o.Repo != nil {
		d, err := pg.ReadDataDir(a.pg.dataDir)
		if err != nil {
			return err
		}
		info := repo.ClusterInfo{SystemID: d.SystemID, PGVersion: d.PGVersion, PGVersionNum: d.PGVersion * 10000, WALSegmentSize: d.WALSegmentSize}
		if err := a.registerInRepo(ctx, info); err != nil {
			return err
		}
	}
	return a.pg.Start(ctx, false)
}

// bootstrapFromBackup restores a backup set of the source cluster,
// recovers it to the target (or the end of the archive) and lets it
// promote: PostgreSQL then starts a new timeline, whose number it picks
// past every timeline history file in the source's archive, so the new
// cluster's WAL never takes the name of the source's. The recovery
// settings pointing at the source's archive are removed afterwards.
func (a *Agent) bootstrapFromBackup(ctx context.Context) error {
	b := a.o.Bootstrap
	src, err := a.o.Repo.Cluster(ctx, b.Cluster)
	if err != nil {
		return err
	}
	res, err := restore.Run(ctx, a.o.Repo, src, restore.Options{PGData: a.pg.dataDir, Set: b.Set, Target: b.Target,
		RestoreCommand: b.RestoreCommand, Logger: a.log})
	if err != nil {
		return fmt.Errorf("restore a backup of %s: %w", b.Cluster, err)
	}
	a.log.Info("restored a backup to bootstrap the cluster from", "source", b.Cluster, "backup", res.Label, "target", res.Target,
		"took", res.Duration.Round(time.Millisecond))
	if err := a.registerInRepo(ctx, *src); err != nil {
		return err
	}
	if err := a.pg.startRecovery(ctx); err != nil {
		return err
	}
	if err := a.pg.waitPromoted(ctx); err != nil {
		return err
	}
	return a.pg.resetRecovery(ctx)
}

// registerInRepo registers the cluster in the repository under its own
// name, as `pgkeep create` does, before its server starts, so that
// archive_command works from the first file. A cluster bootstrapped from a
// backup keeps the source's system identifier (PostgreSQL copies it):
// under another name that is a new registration of the same system, the
// new cluster's WAL (on its new timeline) and backups then go under its
// own name; under the source's own name it is the same registration (a
// cluster recreated from its own backup, whose new timeline PostgreSQL
// numbers past every one in the archive).
func (a *Agent) registerInRepo(ctx context.Context, info repo.ClusterInfo) error {
	info.Name, info.Created, info.Checksum = a.o.Cluster, time.Time{}, ""
	stored, created, err := a.o.Repo.CreateCluster(ctx, info)
	if err != nil {
		return err
	}
	a.log.Info("cluster registered in the repository", "cluster", stored.Name, "system_identifier", stored.SystemID, "new", created)
	return nil
}

// adoptInitialize writes the leader's system identifier into a missing
// initialize key: a cluster that existed before its agents (its data
// directories made by hand) is initialized by its first leader, as
// Patroni does.
func (a *Agent) adoptInitialize(ctx context.Context) {
	d, err := a.pg.inspect()
	if err != nil || d.empty {
		return
	}
	switch err := a.dcs.SetInitialize(ctx, d.sysid, 0); {
	case err == nil:
		a.log.Info("initialize key written with this leader's system identifier", "system_identifier", d.sysid)
	case !errors.Is(err, dcs.ErrConflict):
		a.log.Warn("cannot write the initialize key", "err", err)
	}
}

// bootRetry spaces the bootstraps of a member whose bootstrap fails (a
// backup bootstrap may download a whole backup each time): after n
// failures, loop_wait * 2^n, at most maxBootBackoff.
type bootRetry struct {
	failures int
	retryAt  time.Time
}

// maxBootBackoff bounds the wait between two failed bootstraps.
const maxBootBackoff = 5 * time.Minute

func (b *bootRetry) failed(loopWait time.Duration) {
	b.failures++
	wait := loopWait << min(b.failures, 20)
	b.retryAt = time.Now().Add(min(wait, maxBootBackoff))
}
