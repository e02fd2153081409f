// Package basebackup takes backups: it finds the source server (the etcd
// leader, a healthy replica or a given host), streams BASE_BACKUP over the
// replication protocol, splits the tar stream into parts that a pool of
// workers hashes, compresses, encrypts and uploads in bundles, stores parts
// unchanged since the parent backup as references, waits until the WAL the
// backup needs is archived and writes the manifest last.
package basebackup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
)

// Options configure one backup.
type Options struct {
	Repo    *repo.Repo
	Cluster *repo.ClusterInfo
	Source  Source
	Type    string // repo.BackupFull, BackupDiff or BackupIncr
	// Workers hash, compress and upload in parallel; default one per core.
	Workers int
	// PartSize splits large files; unchanged parts of a diff/incr backup
	// are references. Default 4 MiB.
	PartSize int64
	// BundleSize closes a bundle once it holds this many bytes. Default 64 MiB.
	BundleSize int64
	// ConfigFiles are absolute paths on the source host of files outside
	// PGDATA to store with the backup (read with pg_read_binary_file).
	ConfigFiles []string
	// WALTimeout bounds the wait for the backup's WAL to reach the archive.
	WALTimeout time.Duration
	// LockTTL is how long the lock lasts without renewal.
	LockTTL time.Duration
	// Locker takes the cluster's lock; nil: the repository's lock object.
	Locker repo.Locker
	// Progress, when not nil, receives a progress line every half second.
	Progress io.Writer
	Log      *slog.Logger
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.PartSize <= 0 {
		o.PartSize = 4 << 20
	}
	if o.BundleSize <= 0 {
		o.BundleSize = 64 << 20
	}
	if o.WALTimeout <= 0 {
		o.WALTimeout = 60 * time.Second
	}
	if o.LockTTL <= 0 {
		o.LockTTL = 2 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Locker == nil {
		o.Locker = o.Repo.ObjectLocker()
	}
}

// Run takes one backup and returns its manifest, written last.
func Run(ctx context.Context, o Options) (*repo.Manifest, error) {
	o.defaults()
	if o.Source.Info.SystemID != o.Cluster.SystemID {
		return nil, fmt.Errorf("source has system identifier %d, cluster %q has %d%s: %w",
			o.Source.Info.SystemID, o.Cluster.Name, o.Cluster.SystemID, repo.UpgradeHint(o.Cluster, o.Source.Info.SystemID), repo.ErrClusterMismatch)
	}
	if o.Source.Info.Major() < 15 {
		return nil, fmt.Errorf("backups from PostgreSQL %d are not supported yet (15 or later)", o.Source.Info.Major())
	}
	lock, err := o.Locker.Lock(ctx, o.Cluster.Name, "backup", o.LockTTL)
	if err != nil {
		return nil, err
	}
	defer lock.Release(context.WithoutCancel(ctx))
	if err := removeLeftovers(ctx, o.Repo, o.Cluster.Name, o.Log); err != nil {
		return nil, err
	}
	parent, err := chooseParent(ctx, o.Repo, o.Cluster, &o.Type, o.Log)
	if err != nil {
		return nil, err
	}
	b := &backup{o: o, parent: newParentIndex(parent), lock: lock}
	return b.run(ctx, parent)
}

// backup is one backup in progress.
type backup struct {
	o        Options
	parent   parentIndex
	m        *repo.Manifest
	estimate int64 // expected bytes, for the progress line
	lock     repo.HeldLock
}

func (b *backup) run(ctx context.Context, parent *repo.Manifest) (*repo.Manifest, error) {
	start := time.Now().UTC()
	full := ""
	if parent != nil {
		full = fullLabel(parent)
	}
	b.m = &repo.Manifest{
		Label:          repo.NewLabel(b.o.Type, full, start),
		Type:           b.o.Type,
		Cluster:        b.o.Cluster.Name,
		SystemID:       b.o.Cluster.SystemID,
		PGVersion:      b.o.Source.Info.Major(),
		PGVersionNum:   b.o.Source.Info.VersionNum,
		WALSegmentSize: b.o.Cluster.WALSegmentSize,
		Source:         b.o.Source.String(),
		StartTime:      start,
	}
	if parent != nil {
		b.m.Parent = parent.Label
		b.m.Chain = append(append([]string{}, parent.Chain...), parent.Label)
	}
	if _, err := b.o.Repo.ReadManifest(ctx, b.m.Cluster, b.m.Label); err == nil {
		return nil, fmt.Errorf("backup %s already exists: backups must start at least a second apart", b.m.Label)
	} else if !errors.Is(err, repo.ErrNoBackup) {
		return nil, err
	}
	b.o.Log.Info("backup starting", "label", b.m.Label, "type", b.m.Type, "parent", b.m.Parent, "source", b.m.Source)
	if err := b.inspect(ctx); err != nil {
		return nil, err
	}
	if err := b.stream(ctx); err != nil {
		return nil, err
	}
	if err := waitForWAL(ctx, b.o.Repo, b.o.Cluster, b.m, b.o.WALTimeout); err != nil {
		return nil, err
	}
	if err := b.lock.Err(); err != nil {
		return nil, fmt.Errorf("backup %s not kept: %w", b.m.Label, err)
	}
	if err := b.o.Repo.WriteManifest(ctx, b.m); err != nil {
		return nil, err
	}
	b.o.Log.Info("backup complete", "label", b.m.Label, "bytes", b.m.Size, "stored", b.m.StoredSize,
		"files", len(b.m.Files), "seconds", time.Since(start).Seconds())
	return b.m, nil
}

// stream runs BASE_BACKUP and stores what it sends.
func (b *backup) stream(ctx context.Context) error {
	conn, err := pgconn.Connect(ctx, b.o.Source.Conn.ConnString()+"&replication=true")
	if err != nil {
		return fmt.Errorf("replication connection to %s: %w", b.o.Source, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res, err := pglogrepl.StartBaseBackup(ctx, conn, pglogrepl.BaseBackupOptions{
		Label: "pgkeep " + b.m.Label, Fast: true, NoWait: true, TablespaceMap: true,
	})
	if err != nil {
		return fmt.Errorf("BASE_BACKUP on %s: %w", b.o.Source, err)
	}
	b.m.StartLSN = pg.LSN(res.LSN).String()
	b.m.Timeline = uint32(res.TimelineID)
	locations := map[string]uint32{}
	for _, ts := range res.Tablespaces {
		locations[ts.Location] = uint32(ts.OID)
		b.m.Tablespaces = append(b.m.Tablespaces, repo.Tablespace{OID: uint32(ts.OID), Location: ts.Location})
	}
	s := &archiveStream{ctx: ctx, conn: conn}
	if err := b.store(ctx, s, locations); err != nil {
		return err
	}
	end, err := pglogrepl.FinishBaseBackup(ctx, conn)
	if err != nil {
		return fmt.Errorf("finish BASE_BACKUP: %w", err)
	}
	b.m.StopLSN = pg.LSN(end.LSN).String()
	b.m.StopTime = time.Now().UTC()
	seg := b.o.Cluster.WALSegmentSize
	b.m.StartWAL = pg.SegmentOf(b.m.Timeline, pg.LSN(res.LSN), seg)
	b.m.StopWAL = pg.SegmentOf(b.m.Timeline, pg.LSN(end.LSN), seg)
	return nil
}

func fullLabel(m *repo.Manifest) string {
	if m.Type == repo.BackupFull {
		return m.Label
	}
	return m.Chain[0]
}
