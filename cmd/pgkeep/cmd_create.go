package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgkeep/pgkeep/configs"
	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
)

func newCreateCommand(g *globals) *cobra.Command {
	var upgrade bool
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Initialise the repository and register the cluster (system identifier, version)",
		Long: `create initialises the repository (pgkeep.json, encrypted when a cipher passphrase
is configured) if needed and registers the cluster: its system identifier, PostgreSQL
version and WAL segment size, read from the running server (--pg-host/--pg-port) or,
when only --pgdata is given, from the data directory. Running it again for the same
server is harmless; a different server under the same cluster name is refused.

After pg_upgrade (a major-version upgrade gives the cluster a new system
identifier), run create --upgrade against the upgraded server before archiving
resumes (like pgbackrest stanza-upgrade). The upgraded server becomes the
cluster's new generation, with WAL of its own; the backups and WAL from before the
upgrade stay restorable (archive-get picks the generation by the restoring data
directory's pg_control) until expire removes them. The next backup is a full one.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadCluster()
			if err != nil {
				return err
			}
			return runCreate(cmd.Context(), cmd, cfg, upgrade)
		},
	}
	cmd.Flags().BoolVar(&upgrade, "upgrade", false, "register the upgraded server (new system identifier, after pg_upgrade) as the cluster's new generation")
	return cmd
}

func runCreate(ctx context.Context, cmd *cobra.Command, cfg *configs.Config, upgrade bool) error {
	info, err := identify(ctx, cfg)
	if err != nil {
		return err
	}
	info.Name = cfg.Cluster
	s, err := openStorage(ctx, cfg)
	if err != nil {
		return err
	}
	opts, err := repoOptions(cfg, s)
	if err != nil {
		return err
	}
	r, err := repo.Init(ctx, opts)
	if err != nil {
		return err
	}
	stored, created, err := r.CreateCluster(ctx, info)
	upgraded := false
	if upgrade && errors.Is(err, repo.ErrClusterMismatch) {
		stored, upgraded, err = r.UpgradeCluster(ctx, info)
		created = upgraded
	}
	if err != nil {
		return err
	}
	verb := "registered"
	switch {
	case upgraded:
		verb = fmt.Sprintf("upgraded to generation %d", stored.Gen())
	case !created:
		verb = "already registered"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "cluster %s %s in %s: system identifier %d, PostgreSQL %d, WAL segment size %d MiB\n",
		stored.Name, verb, r.Location(), stored.SystemID, stored.PGVersion, stored.WALSegmentSize>>20)
	return nil
}

// identify reads the cluster's identity from the server, or from PGDATA
// when a data directory but no host is configured.
func identify(ctx context.Context, cfg *configs.Config) (repo.ClusterInfo, error) {
	if cfg.PG.Data != "" && cfg.PG.Host == "" {
		d, err := pg.ReadDataDir(cfg.PG.Data)
		if err != nil {
			return repo.ClusterInfo{}, err
		}
		return repo.ClusterInfo{SystemID: d.SystemID, PGVersion: d.PGVersion, PGVersionNum: d.PGVersion * 10000, WALSegmentSize: d.WALSegmentSize}, nil
	}
	conn, err := pg.Connect(ctx, connOptions(cfg))
	if err != nil {
		return repo.ClusterInfo{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	s, err := pg.QueryServerInfo(ctx, conn)
	if err != nil {
		return repo.ClusterInfo{}, err
	}
	return repo.ClusterInfo{SystemID: s.SystemID, PGVersion: s.Major(), PGVersionNum: s.VersionNum, WALSegmentSize: s.WALSegmentSize}, nil
}
