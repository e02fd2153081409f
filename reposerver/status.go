package reposerver

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/walarchive"
)

// Status is what GET /status returns.
type Status struct {
	Cluster string `json:"cluster"`
	Server  string `json:"server"`
	// Role is "active" (streaming and scheduling) or "standby".
	Role string `json:"role"`
	// Active names the cluster's active server, as the election says.
	Active string      `json:"active,omitempty"`
	Leader *leaderInfo `json:"leader,omitempty"`
	Stream *StreamInfo `json:"stream,omitempty"`
	// Backups holds the newest backup of each type.
	Backups        map[string]BackupInfo `json:"backups"`
	Jobs           map[string]jobState   `json:"jobs"`
	RecoveryWindow []repo.TimelineWindow `json:"recovery-window"`
}

// StreamInfo is the WAL receiver's position and the archive's lag.
type StreamInfo struct {
	walarchive.ReceiverStatus
	LagBytes   int64   `json:"lag-bytes"`
	LagSeconds float64 `json:"lag-seconds"`
}

// BackupInfo sums up one backup.
type BackupInfo struct {
	Label      string    `json:"label"`
	Type       string    `json:"type"`
	StartTime  time.Time `json:"start-time"`
	StopTime   time.Time `json:"stop-time"`
	StartLSN   string    `json:"start-lsn"`
	StopLSN    string    `json:"stop-lsn"`
	Size       int64     `json:"size"`
	StoredSize int64     `json:"stored-size"`
}

// Status returns where the server stands.
func (s *Server) Status() Status {
	st := Status{Cluster: s.o.Cluster.Name, Server: s.o.Name, Role: "standby", Backups: map[string]BackupInfo{}, Jobs: map[string]jobState{}}
	if s.active.Load() {
		st.Role = "active"
		if r := s.receiver.Load(); r != nil {
			rs := r.Status()
			bytes, secs := s.lag.observe(time.Now(), rs.ServerEnd, rs.Archived)
			st.Stream = &StreamInfo{ReceiverStatus: rs, LagBytes: bytes, LagSeconds: secs}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.Active = s.holder
	if s.active.Load() && s.o.Stream {
		l := s.leader
		st.Leader = &l
	}
	for t, m := range s.lastByTy {
		st.Backups[t] = BackupInfo{Label: m.Label, Type: m.Type, StartTime: m.StartTime, StopTime: m.StopTime,
			StartLSN: m.StartLSN, StopLSN: m.StopLSN, Size: m.Size, StoredSize: m.StoredSize}
	}
	for j, js := range s.jobs {
		st.Jobs[j] = *js
	}
	st.RecoveryWindow = append([]repo.TimelineWindow{}, s.window...)
	return st
}

// How often the backups (one listing, new manifests only) and the
// recovery window (a listing of all WAL) are re-read.
const (
	backupsEvery = 5 * time.Second
	windowEvery  = time.Minute
)

// refresh re-reads the backups and the recovery window.
func (s *Server) refresh(ctx context.Context) {
	if _, err := s.refreshBackups(ctx); err != nil {
		s.log.Warn("reading the backups", "err", err)
		return
	}
	s.refreshWindow(ctx)
}

// refreshBackups re-reads the list of backups, reading only manifests it
// has not seen, and reports whether the list changed.
func (s *Server) refreshBackups(ctx context.Context) (changed bool, err error) {
	labels, err := s.o.Repo.Backups(ctx, s.o.Cluster.Name)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	known := s.manifests
	s.mu.Unlock()
	ms := make([]*repo.Manifest, 0, len(labels))
	for _, l := range labels {
		m := known[l]
		if m == nil {
			if m, err = s.o.Repo.ReadManifest(ctx, s.o.Cluster.Name, l); err != nil {
				return false, err
			}
			changed = true
		}
		ms = append(ms, m)
	}
	changed = changed || len(ms) != len(known)
	byLabel := make(map[string]*repo.Manifest, len(ms))
	last := map[string]*repo.Manifest{}
	for _, m := range ms {
		byLabel[m.Label] = m
		if p := last[m.Type]; p == nil || m.StopTime.After(p.StopTime) {
			last[m.Type] = m
		}
	}
	s.metrics.lastBackup.Reset()
	for t, m := range last {
		s.metrics.lastBackup.WithLabelValues(t).Set(float64(m.StopTime.Unix()))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.manifests, s.lastByTy = byLabel, last
	return changed, nil
}

// refreshWindow re-reads the WAL index and recomputes the recovery window.
func (s *Server) refreshWindow(ctx context.Context) {
	c, err := s.cluster(ctx)
	if err != nil {
		s.log.Warn("reading the cluster's registration", "err", err)
		return
	}
	idx, err := s.o.Repo.IndexWAL(ctx, c)
	if err != nil {
		s.log.Warn("reading the WAL index", "err", err)
		return
	}
	s.mu.Lock()
	ms := make([]*repo.Manifest, 0, len(s.manifests))
	for _, m := range s.manifests {
		ms = append(ms, m)
	}
	s.mu.Unlock()
	slices.SortFunc(ms, func(a, b *repo.Manifest) int { return strings.Compare(a.Label, b.Label) })
	window := repo.RecoveryWindows(idx, ms)
	if n := len(window); n > 0 {
		w := window[n-1]
		s.metrics.windowStart.Set(float64(w.StartTime.Unix()))
		s.metrics.windowEnd.Set(float64(w.EndTime.Unix()))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.window = window
}

// observeLag samples the stream's position and sets the lag metrics.
func (s *Server) observeLag(now time.Time) {
	r := s.receiver.Load()
	if r == nil || !s.active.Load() {
		return
	}
	rs := r.Status()
	bytes, secs := s.lag.observe(now, rs.ServerEnd, rs.Archived)
	s.metrics.lagBytes.Set(float64(bytes))
	s.metrics.lagSeconds.Set(secs)
	s.metrics.archivedLSN.Set(float64(rs.Archived))
}

// sample updates the lag and age metrics every second and re-reads the
// repository's backups and window now and then, until ctx ends.
func (s *Server) sample(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastBackups, lastWindow := time.Now(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			s.observeLag(now)
			s.mu.Lock()
			for t, m := range s.lastByTy {
				s.metrics.backupAge.WithLabelValues(t).Set(now.Sub(m.StopTime).Seconds())
			}
			s.mu.Unlock()
			if now.Sub(lastBackups) >= backupsEvery {
				lastBackups = now
				changed, err := s.refreshBackups(ctx)
				if err != nil {
					s.log.Warn("reading the backups", "err", err)
				}
				if changed || now.Sub(lastWindow) >= windowEvery {
					lastWindow = now
					s.refreshWindow(ctx)
				}
			}
		}
	}
}
