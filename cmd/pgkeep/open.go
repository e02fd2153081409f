package main

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pgkeep/pgkeep/configs"
	"github.com/pgkeep/pgkeep/internal/etcdlock"
	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/azure"
	"github.com/pgkeep/pgkeep/repo/storage/posix"
	"github.com/pgkeep/pgkeep/repo/storage/remote"
	"github.com/pgkeep/pgkeep/repo/storage/retry"
)

// openStorage builds the configured storage backend with its wrappers.
func openStorage(ctx context.Context, cfg *configs.Config) (storage.Storage, error) {
	if err := cfg.RequireRepo(); err != nil {
		return nil, err
	}
	switch cfg.Repo.Type {
	case configs.RepoPosix:
		s, err := posix.New(cfg.Repo.Path)
		if err != nil {
			return nil, err
		}
		return retry.New(s, retry.Options{Attempts: 3}), nil
	case configs.RepoAzure:
		a := cfg.Repo.Azure
		s, err := azure.New(ctx, azure.Config{
			Account:          a.Account,
			Container:        a.Container,
			Endpoint:         a.Endpoint,
			Key:              a.Key.Reveal(),
			SAS:              a.SAS.Reveal(),
			ConnectionString: a.ConnectionString.Reveal(),
		})
		if err != nil {
			return nil, err
		}
		return s, nil // azblob retries each request itself
	case configs.RepoServer:
		r := cfg.Repo
		s, err := remote.New(ctx, remote.Config{
			URL:      r.Server,
			Token:    r.ServerToken.Reveal(),
			CAFile:   r.ServerCAFile,
			CertFile: r.ServerCertFile,
			KeyFile:  r.ServerKeyFile,
		})
		if err != nil {
			return nil, usageError{err} // New only checks the settings and loads files
		}
		return retry.New(s, retry.Options{Attempts: 3}), nil
	}
	return nil, usageError{fmt.Errorf("repo.type %q: unknown repository type", cfg.Repo.Type)}
}

func repoOptions(cfg *configs.Config, s storage.Storage) (repo.Options, error) {
	comp, err := repo.ParseCompression(cfg.Repo.CompressType)
	if err != nil {
		return repo.Options{}, usageError{fmt.Errorf("repo.compress-type: %w", err)}
	}
	opts := repo.Options{Storage: s, Compression: comp, Level: cfg.Repo.CompressLevel}
	if pass := cfg.Repo.CipherPass.Reveal(); pass != "" {
		opts.CipherPass = []byte(pass)
	}
	return opts, nil
}

// openRepo opens the configured, initialised repository.
func openRepo(ctx context.Context, cfg *configs.Config) (*repo.Repo, error) {
	s, err := openStorage(ctx, cfg)
	if err != nil {
		return nil, err
	}
	opts, err := repoOptions(cfg, s)
	if err != nil {
		return nil, err
	}
	return repo.Open(ctx, opts)
}

// openCluster opens the repository and loads the configured cluster.
func openCluster(ctx context.Context, cfg *configs.Config) (*repo.Repo, *repo.ClusterInfo, error) {
	r, err := openRepo(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	c, err := r.Cluster(ctx, cfg.Cluster)
	if err != nil {
		return nil, nil, err
	}
	return r, c, nil
}

// openClusterRepo loads the configuration of a one-cluster command and opens
// the repository and the cluster.
func (g *globals) openClusterRepo(ctx context.Context) (*configs.Config, *repo.Repo, *repo.ClusterInfo, error) {
	cfg, err := g.loadCluster()
	if err != nil {
		return nil, nil, nil, err
	}
	r, c, err := openCluster(ctx, cfg)
	return cfg, r, c, err
}

// connOptions is how to reach the configured server.
func connOptions(cfg *configs.Config) pg.ConnOptions {
	return pg.ConnOptions{Host: cfg.PG.Host, Port: cfg.PG.Port, User: cfg.PG.User, Database: cfg.PG.Database}
}

// locker is the cluster lock for backup and expire: an etcd lease where
// etcd is configured, else the repository's lock object. Call done when
// finished.
func locker(cfg *configs.Config, r *repo.Repo) (l repo.Locker, done func(), err error) {
	if len(cfg.Etcd.Endpoints) == 0 {
		return r.ObjectLocker(), func() {}, nil
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: cfg.Etcd.Endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, nil, fmt.Errorf("etcd %v: %w", cfg.Etcd.Endpoints, err)
	}
	return &etcdlock.Locker{Client: client, Namespace: cfg.Etcd.Namespace}, func() { client.Close() }, nil
}
