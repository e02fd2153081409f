package basebackup

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
)

// inspect estimates the backup's size and captures the configured files
// that live outside PGDATA, over an ordinary connection.
func (b *backup) inspect(ctx context.Context) error {
	conn, err := pg.Connect(ctx, b.o.Source.Conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := conn.QueryRow(ctx, `SELECT coalesce(sum(pg_database_size(oid)), 0)::bigint FROM pg_database`).Scan(&b.estimate); err != nil {
		return fmt.Errorf("estimate backup size: %w", err)
	}
	return b.captureConfig(ctx, conn)
}

// captureConfig stores each configured file outside PGDATA as one part of
// the backup's last bundle.
func (b *backup) captureConfig(ctx context.Context, conn *pgx.Conn) error {
	if len(b.o.ConfigFiles) == 0 {
		return nil
	}
	bw := b.o.Repo.NewBundleWriter(ctx, b.m.Cluster, b.m.Label, 0)
	for _, path := range b.o.ConfigFiles {
		var data []byte
		var mtime time.Time
		err := conn.QueryRow(ctx, `SELECT pg_read_binary_file($1), (pg_stat_file($1)).modification`, path).Scan(&data, &mtime)
		if err != nil {
			bw.Abort()
			return fmt.Errorf("capture configuration file %s: %w", path, err)
		}
		part, err := bw.Add(data)
		if err != nil {
			bw.Abort()
			return fmt.Errorf("capture configuration file %s: %w", path, err)
		}
		b.m.StoredSize += part.BLength
		b.m.ConfigFiles = append(b.m.ConfigFiles, repo.File{Path: path, Size: int64(len(data)), Mode: 0o640,
			ModTime: mtime.UTC(), Parts: []repo.Part{part}})
	}
	b.m.Bundles++
	return bw.Close()
}
