package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgkeep/pgkeep/internal/units"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/restore"
	"github.com/pgkeep/pgkeep/walarchive"
)

// clusterReport is one cluster in `info`: its current generation, its
// backups, and the generations before pg_upgrades.
type clusterReport struct {
	Name string `json:"name"`
	generationReport
	Backups     []backupReport `json:"backups"`
	BackupBytes int64          `json:"backup-bytes"` // stored bytes of all backups
	// Earlier: the generations before major-version upgrades, oldest first.
	Earlier []generationReport `json:"earlier-generations,omitempty"`
}

// generationReport is the WAL of one generation (system identifier) of a
// cluster.
type generationReport struct {
	Generation     int                `json:"generation"`
	SystemID       uint64             `json:"system-id,string"`
	PGVersion      int                `json:"pg-version"`
	WALSegmentSize int64              `json:"wal-segment-size"`
	WAL            walarchive.Summary `json:"wal"`
	// RecoveryWindows: per timeline, from the end of the oldest backup that
	// can recover onto it to the furthest archived WAL a backup reaches.
	RecoveryWindows []timelineWindow `json:"recovery-windows"`
	Problem         string           `json:"problem,omitempty"` // why windows are missing
}

// backupReport is one backup in `info`.
type backupReport struct {
	Label      string        `json:"label"`
	Type       string        `json:"type,omitempty"`
	Parent     string        `json:"parent,omitempty"`
	Chain      []string      `json:"chain,omitempty"`
	Timeline   uint32        `json:"timeline,omitempty"`
	StartTime  time.Time     `json:"start-time,omitzero"`
	StopTime   time.Time     `json:"stop-time,omitzero"`
	StartLSN   string        `json:"start-lsn,omitempty"`
	StopLSN    string        `json:"stop-lsn,omitempty"`
	StartWAL   string        `json:"start-wal,omitempty"`
	StopWAL    string        `json:"stop-wal,omitempty"`
	Size       int64         `json:"size"`
	StoredSize int64         `json:"stored-size"`
	SystemID   uint64        `json:"system-id,string,omitempty"`
	Window     *backupWindow `json:"window,omitempty"` // towards the latest timeline
	Error      string        `json:"error,omitempty"`  // the manifest is unreadable
}

// backupWindow is how far one backup can be recovered.
type backupWindow struct {
	Timeline   uint32    `json:"timeline"`
	Restorable bool      `json:"restorable"`
	StartTime  time.Time `json:"start-time"`
	StartLSN   string    `json:"start-lsn"`
	EndTime    time.Time `json:"end-time,omitzero"`
	EndLSN     string    `json:"end-lsn"`
	// EndIsLastCommit: end-time is the last commit's (else when the newest WAL was archived).
	EndIsLastCommit bool   `json:"end-is-last-commit"`
	Problem         string `json:"problem,omitempty"`
}

// timelineWindow is the recovery window of one timeline.
type timelineWindow struct {
	Timeline  uint32    `json:"timeline"`
	Oldest    string    `json:"oldest-backup"`
	StartTime time.Time `json:"start-time"`
	StartLSN  string    `json:"start-lsn"`
	EndTime   time.Time `json:"end-time"`
	EndLSN    string    `json:"end-lsn"`
	// EndIsLastCommit: end-time is the last commit's (else when the newest WAL was archived).
	EndIsLastCommit bool `json:"end-is-last-commit"`
}

type infoReport struct {
	Repository string          `json:"repository"`
	Encrypted  bool            `json:"encrypted"`
	Clusters   []clusterReport `json:"clusters"`
	Bytes      int64           `json:"bytes"`
}

func newInfoCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "Show clusters, backups, WAL ranges and recovery windows per timeline",
		Long: `info lists every cluster in the repository (or only --cluster) with its backups,
its archived WAL and the recovery window of each timeline; --output json for scripts.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			r, err := openRepo(ctx, cfg)
			if err != nil {
				return err
			}
			names := []string{cfg.Cluster}
			if cfg.Cluster == "" {
				if names, err = r.Clusters(ctx); err != nil {
					return err
				}
			}
			rep := infoReport{Repository: r.Location(), Encrypted: r.Encrypted(), Clusters: []clusterReport{}}
			for _, name := range names {
				cr, err := clusterInfo(ctx, r, name)
				if err != nil {
					return err
				}
				rep.Bytes += cr.WAL.Bytes + cr.BackupBytes
				rep.Clusters = append(rep.Clusters, cr)
			}
			if cfg.Output == "json" {
				return writeJSON(cmd, rep)
			}
			printInfo(cmd.OutOrStdout(), rep)
			return nil
		},
	}
}

// clusterInfo gathers one cluster's WAL, backups and windows. An unreadable
// manifest or history file is shown, not fatal.
func clusterInfo(ctx context.Context, r *repo.Repo, name string) (clusterReport, error) {
	c, err := r.Cluster(ctx, name)
	if err != nil {
		return clusterReport{}, err
	}
	cr := clusterReport{Name: c.Name, Backups: []backupReport{}}
	labels, err := r.Backups(ctx, name)
	if err != nil {
		return clusterReport{}, fmt.Errorf("list backups of %s: %w", name, err)
	}
	var ms []*repo.Manifest
	manifests := map[string]*repo.Manifest{}
	for _, l := range labels {
		m, err := r.ReadManifest(ctx, name, l)
		if err != nil {
			cr.Backups = append(cr.Backups, backupReport{Label: l, Error: err.Error()})
			continue
		}
		ms = append(ms, m)
		manifests[l] = m
		cr.BackupBytes += m.StoredSize
		cr.Backups = append(cr.Backups, backupReport{Label: m.Label, Type: m.Type, Parent: m.Parent, Chain: m.Chain,
			Timeline: m.Timeline, StartTime: m.StartTime, StopTime: m.StopTime, StartLSN: m.StartLSN, StopLSN: m.StopLSN,
			StartWAL: m.StartWAL, StopWAL: m.StopWAL, Size: m.Size, StoredSize: m.StoredSize, SystemID: m.SystemID})
	}
	var a repo.Archive
	for _, g := range c.Generations() {
		gr, idx, err := generationInfo(ctx, r, g, ms)
		if err != nil {
			return clusterReport{}, err
		}
		if g.Gen() == c.Gen() {
			cr.generationReport = gr
		} else {
			cr.Earlier = append(cr.Earlier, gr)
		}
		if idx != nil {
			a = append(a, idx)
		}
	}
	for i := range cr.Backups {
		if m := manifests[cr.Backups[i].Label]; m != nil {
			w := a.Window(m, 0)
			cr.Backups[i].Window = &backupWindow{Timeline: w.Timeline, Restorable: w.Restorable,
				StartTime: w.StartTime, StartLSN: w.StartLSN.String(), EndTime: w.EndTime, EndLSN: w.EndLSN.String(),
				EndIsLastCommit: w.EndIsLastCommit, Problem: w.Problem}
		}
	}
	return cr, nil
}

// generationInfo gathers the WAL and recovery windows of generation g of a
// cluster with backups ms; idx is nil when its WAL cannot be indexed.
func generationInfo(ctx context.Context, r *repo.Repo, g *repo.ClusterInfo, ms []*repo.Manifest) (generationReport, *repo.WALIndex, error) {
	sum, err := walarchive.Summarize(ctx, r, g)
	if err != nil {
		return generationReport{}, nil, err
	}
	gr := generationReport{Generation: g.Gen(), SystemID: g.SystemID, PGVersion: g.PGVersion, WALSegmentSize: g.WALSegmentSize,
		WAL: sum, RecoveryWindows: []timelineWindow{}}
	idx, err := r.IndexWAL(ctx, g)
	if err != nil {
		gr.Problem = err.Error()
		return gr, nil, nil
	}
	for _, w := range repo.RecoveryWindows(idx, ms) {
		gr.RecoveryWindows = append(gr.RecoveryWindows, timelineWindow{Timeline: w.Timeline, Oldest: w.Oldest,
			StartTime: w.StartTime, StartLSN: w.StartLSN.String(), EndTime: w.EndTime, EndLSN: w.EndLSN.String(),
			EndIsLastCommit: w.EndIsLastCommit})
	}
	return gr, idx, nil
}

func printInfo(w io.Writer, rep infoReport) {
	fmt.Fprintf(w, "repository %s (%s, encrypted: %v)\n", rep.Repository, units.Bytes(rep.Bytes), rep.Encrypted)
	for _, c := range rep.Clusters {
		gen := ""
		if len(c.Earlier) > 0 {
			gen = fmt.Sprintf(" (generation %d)", c.Generation)
		}
		fmt.Fprintf(w, "\ncluster %s: system identifier %d, PostgreSQL %d, WAL segment %d MiB%s\n",
			c.Name, c.SystemID, c.PGVersion, c.WALSegmentSize>>20, gen)
		printWAL(w, c.generationReport)
		printBackups(w, c)
		for _, e := range c.Earlier {
			fmt.Fprintf(w, "  before an upgrade: generation %d, system identifier %d, PostgreSQL %d, WAL segment %d MiB\n",
				e.Generation, e.SystemID, e.PGVersion, e.WALSegmentSize>>20)
			printWAL(w, e)
		}
	}
}

func printWAL(w io.Writer, c generationReport) {
	fmt.Fprintf(w, "  WAL: %d objects, %s\n", c.WAL.Objects, units.Bytes(c.WAL.Bytes))
	for _, tl := range c.WAL.Timelines {
		var parts []string
		for _, r := range tl.Ranges {
			parts = append(parts, fmt.Sprintf("%s-%s (%d)", r.First, r.Last, r.Count))
		}
		line := strings.Join(parts, ", gap, ")
		if line == "" {
			line = "no segments"
		}
		fmt.Fprintf(w, "  timeline %d: %s", tl.Timeline, line)
		if tl.Partial != "" {
			fmt.Fprintf(w, "; partial %s", tl.Partial)
		}
		fmt.Fprintln(w)
		for _, rw := range c.RecoveryWindows {
			if rw.Timeline == tl.Timeline {
				end := "archived"
				if rw.EndIsLastCommit {
					end = "last commit"
				}
				// Exact and with the zone: what an operator copies into --target-time.
				fmt.Fprintf(w, "    recovery window: %s (%s, end of backup %s) to %s (%s, %s)\n",
					restore.PGTime(rw.StartTime), rw.StartLSN, rw.Oldest, restore.PGTime(rw.EndTime), rw.EndLSN, end)
			}
		}
	}
	if c.Problem != "" {
		fmt.Fprintf(w, "  no recovery windows: %s\n", c.Problem)
	}
}

func printBackups(w io.Writer, c clusterReport) {
	if len(c.Backups) == 0 {
		fmt.Fprintln(w, "  backups: none")
		return
	}
	fmt.Fprintf(w, "  backups: %d, %s stored\n", len(c.Backups), units.Bytes(c.BackupBytes))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "    LABEL\tTYPE\tSTART (UTC)\tSTOP (UTC)\tSTART LSN\tSTOP LSN\tTL\tSIZE\tSTORED\tPARENT")
	var notes []string
	for _, b := range c.Backups {
		if b.Error != "" {
			notes = append(notes, fmt.Sprintf("    backup %s is unreadable: %s", b.Label, b.Error))
			continue
		}
		parent := b.Parent
		if parent == "" {
			parent = "-"
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", b.Label, b.Type, clock(b.StartTime), clock(b.StopTime),
			b.StartLSN, b.StopLSN, b.Timeline, units.Bytes(b.Size), units.Bytes(b.StoredSize), parent)
		for _, e := range c.Earlier {
			if b.SystemID == e.SystemID {
				notes = append(notes, fmt.Sprintf("    backup %s is of generation %d (system identifier %d, PostgreSQL %d), before an upgrade",
					b.Label, e.Generation, e.SystemID, e.PGVersion))
			}
		}
		if b.Window != nil && !b.Window.Restorable {
			notes = append(notes, fmt.Sprintf("    backup %s is not restorable: %s", b.Label, b.Window.Problem))
		}
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
}

// clock formats a time for the text tables, in UTC.
func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func writeJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
