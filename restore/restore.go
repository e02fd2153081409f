package restore

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"time"

	"github.com/pgkeep/pgkeep/repo"
)

// Restore types.
const (
	TypeDefault = "default" // recovery.signal: recover to the target, then act
	TypeStandby = "standby" // standby.signal: follow the archive as a standby
)

// Options say what to restore where.
type Options struct {
	PGData        string
	Set           string // a backup label; "": chosen from the target
	Target        Target
	Type          string // TypeDefault ("") or TypeStandby
	Delta         bool   // rewrite only parts whose digest differs; remove what the backup lacks
	Force         bool   // wipe the data directory (and tablespace locations) first
	TablespaceMap map[uint32]string
	RestoreConfig bool   // write the backup's configuration files from outside PGDATA
	ConfigDir     string // with RestoreConfig: into this directory, by base name; "": original paths
	Workers       int    // parallel part writers; 0: three per core
	// RestoreCommand is restore_command, e.g. from RestoreCommand().
	RestoreCommand string
	Logger         *slog.Logger
	Clock          func() time.Time // nil: time.Now
}

// Validate checks the options and fills in defaults; every error is a
// *UsageError. Run calls it; callers may call it first to refuse bad
// options before opening the repository.
func (o *Options) Validate() error {
	switch {
	case o.PGData == "":
		return usagef("restore needs the data directory: --pgdata (pg.data)")
	case o.Type != "" && o.Type != TypeDefault && o.Type != TypeStandby:
		return usagef("--type %q: want default or standby", o.Type)
	case o.Delta && o.Force:
		return usagef("--delta and --force exclude each other: --delta keeps what is right, --force wipes everything")
	case o.Type == TypeStandby && o.Target.Kind != TargetNone:
		return usagef("--type standby follows the archive: it takes no recovery target (%s)", o.Target)
	case o.Workers < 0:
		return usagef("--workers %d: want a positive number", o.Workers)
	case o.RestoreCommand == "":
		return usagef("restore needs a restore_command")
	}
	abs, err := filepath.Abs(o.PGData)
	if err != nil {
		return usagef("--pgdata %s: %v", o.PGData, err)
	}
	o.PGData = abs
	if o.Workers == 0 {
		// Writes of new files bypass the page cache and wait on the
		// disk: three workers per core keep the CPUs busy meanwhile.
		o.Workers = 3 * runtime.NumCPU()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return nil
}

// PlanRestore reads the cluster's manifests and WAL index and chooses the
// backup (see Choose).
func PlanRestore(ctx context.Context, r *repo.Repo, c *repo.ClusterInfo, set string, t Target) (*Plan, error) {
	manifests, err := r.Manifests(ctx, c.Name)
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	a, err := r.IndexArchive(ctx, c)
	if err != nil {
		return nil, err
	}
	return Choose(manifests, a, set, t)
}

// Run restores a backup of cluster c into opts.PGData: plan and check
// first, write nothing when either refuses, then write (see the package
// documentation for the order).
func Run(ctx context.Context, r *repo.Repo, c *repo.ClusterInfo, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	start := opts.Clock()
	plan, err := PlanRestore(ctx, r, c, opts.Set, opts.Target)
	if err != nil {
		return nil, err
	}
	m := plan.Manifest
	if c.ForSystem(m.SystemID) == nil {
		return nil, fmt.Errorf("backup %s has system identifier %d, cluster %s has %d", m.Label, m.SystemID, c.Name, c.SystemID)
	}
	l, err := newLayout(opts.PGData, m, opts.TablespaceMap)
	if err != nil {
		return nil, err
	}
	var configDests []string
	if opts.RestoreConfig {
		if configDests, err = configTargets(m.ConfigFiles, opts.ConfigDir); err != nil {
			return nil, err
		}
	}
	if err := checkPostmaster(l.root); err != nil {
		return nil, err
	}
	if err := checkDir(l.root, "data directory", opts.Delta, opts.Force); err != nil {
		return nil, err
	}
	if err := l.checkTablespaces(opts.Delta, opts.Force); err != nil {
		return nil, err
	}
	opts.Logger.Info("restoring", "backup", m.Label, "pgdata", l.root, "target", plan.Target.String(),
		"files", len(m.Files), "bytes", m.Size, "delta", opts.Delta, "force", opts.Force, "workers", opts.Workers)
	w := &writer{r: r, cluster: c.Name, l: l, delta: opts.Delta, own: ownerFor(l.root), log: opts.Logger}
	res := &Result{Label: m.Label, BackupType: m.Type, PGData: l.root, Target: plan.Target.Describe(),
		Window: plan.Window, WindowStartLSN: plan.Window.StartLSN.String(), WindowEndLSN: plan.Window.EndLSN.String(),
		Delta: opts.Delta, Settings: RecoverySettings(plan.Target, opts.RestoreCommand, opts.Type == TypeStandby)}
	if err := w.run(ctx, m, &opts, res, configDests); err != nil {
		return nil, err
	}
	res.Stats = w.stats
	res.Duration = opts.Clock().Sub(start)
	res.Seconds = res.Duration.Seconds()
	if opts.RestoreConfig && len(m.ConfigFiles) == 0 {
		opts.Logger.Warn("the backup holds no configuration files from outside the data directory", "backup", m.Label)
	}
	return res, nil
}

// run writes: the steps after every check passed.
func (w *writer) run(ctx context.Context, m *repo.Manifest, opts *Options, res *Result, configDests []string) error {
	l := w.l
	standby := opts.Type == TypeStandby
	signal, _ := signalFiles(standby)
	w.skip = map[string]bool{pgControl: true, autoConf: true, "tablespace_map": l.remapped}
	w.keep = map[string]bool{signal: true}
	if err := makeDataDir(l.root, w.own); err != nil {
		return err
	}
	var kept []byte
	var err error
	switch {
	case opts.Force:
		if err := wipe(l.root); err != nil {
			return err
		}
		if err := l.wipeTablespaces(); err != nil {
			return err
		}
	case opts.Delta:
		if kept, err = w.stashControl(*findFile(m, pgControl)); err != nil {
			return err
		}
	}
	if err := l.makeLinks(w.own); err != nil {
		return err
	}
	if opts.Delta {
		if err := w.prune(ctx, l.root, ""); err != nil {
			return err
		}
	}
	if err := l.makeDirs(w.own); err != nil {
		return err
	}
	if err := w.writeFiles(ctx, m.Files, opts.Workers); err != nil {
		return err
	}
	if f := findFile(m, "tablespace_map"); f != nil && l.remapped {
		if err := w.writeGenerated(f.Path, l.tablespaceMap(), f, fileMode(f.Mode, 0o600)); err != nil {
			return err
		}
	}
	if opts.RestoreConfig {
		if res.ConfigFiles, err = w.restoreConfigFiles(ctx, m.ConfigFiles, configDests); err != nil {
			return err
		}
	}
	if res.Signal, err = w.writeRecovery(ctx, m, res.Settings, standby); err != nil {
		return err
	}
	if err := l.syncDirs(); err != nil {
		return err
	}
	return w.writeControl(ctx, *findFile(m, pgControl), kept)
}
