package restore

import (
	"fmt"
	"time"

	"github.com/pgkeep/pgkeep/internal/units"
	"github.com/pgkeep/pgkeep/repo"
)

// Result is what a restore did.
type Result struct {
	Label          string            `json:"label"`
	BackupType     string            `json:"backup-type"`
	PGData         string            `json:"pgdata"`
	Target         string            `json:"target"`
	Window         repo.BackupWindow `json:"window"`
	WindowStartLSN string            `json:"window-start-lsn"`
	WindowEndLSN   string            `json:"window-end-lsn"`
	Delta          bool              `json:"delta"`
	Stats
	ConfigFiles []string      `json:"config-files,omitempty"`
	Signal      string        `json:"signal"`
	Settings    []string      `json:"recovery-settings"`
	Seconds     float64       `json:"seconds"`
	Duration    time.Duration `json:"-"`
}

// Summary is the one-line report of a restore.
func (r *Result) Summary() string {
	files := fmt.Sprintf("%d files, %s", r.Files, units.Bytes(r.Bytes))
	if r.Delta {
		files += fmt.Sprintf(" (delta: %d rewritten, %s fetched; %d kept, %s; %d removed)",
			r.Rewritten, units.Bytes(r.RewrittenBytes), r.Kept, units.Bytes(r.KeptBytes), r.Removed)
	}
	s := fmt.Sprintf("restored backup %s (%s) into %s: %s in %s; %s; %s written",
		r.Label, r.BackupType, r.PGData, files, r.Duration.Round(time.Millisecond), r.Target, r.Signal)
	if len(r.ConfigFiles) > 0 {
		s += fmt.Sprintf("; %d configuration files restored", len(r.ConfigFiles))
	}
	return s
}
