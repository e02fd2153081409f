package reposerver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pgkeep/pgkeep/basebackup"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/repo/storage"
)

// jobState is what /status tells of one scheduled job.
type jobState struct {
	Schedule    string    `json:"schedule"`
	Running     bool      `json:"running"`
	LastStart   time.Time `json:"last-start,omitzero"`
	LastSuccess time.Time `json:"last-success,omitzero"`
	LastError   string    `json:"last-error,omitempty"`
	Failures    int       `json:"failures"` // in a row
	Retry       time.Time `json:"retry,omitzero"`
	Next        time.Time `json:"next,omitzero"`
}

// maxIdle bounds how long the scheduler sleeps between looks at the
// repository, so that backups taken by hand count.
const maxIdle = time.Minute

// schedule runs the due jobs one at a time until ctx ends.
func (s *Server) schedule(ctx context.Context) {
	if !s.o.Schedules.any() {
		return
	}
	for ctx.Err() == nil {
		last, err := s.lastRuns(ctx)
		if err != nil {
			s.log.Error("scheduler: reading the repository", "err", err)
			s.metrics.errors.WithLabelValues("schedule").Inc()
			wait(ctx, retryDelay(1), nil)
			continue
		}
		now := time.Now()
		job, next := nextJob(s.o.Schedules, last, s.retries(), now)
		s.setNext(last, now)
		if job == "" {
			d := maxIdle
			if !next.IsZero() {
				d = min(d, time.Until(next))
			}
			wait(ctx, d, nil)
			continue
		}
		s.runJob(ctx, job)
	}
}

// retries returns the retry time of every failed job.
func (s *Server) retries() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]time.Time{}
	for j, st := range s.jobs {
		out[j] = st.Retry
	}
	return out
}

// job returns the state of job, creating it.
func (s *Server) job(name string) *jobState {
	st := s.jobs[name]
	if st == nil {
		st = &jobState{}
		if sch := s.o.Schedules.of(name); sch != nil {
			st.Schedule = sch.String()
		}
		s.jobs[name] = st
	}
	return st
}

// setNext records when each job is next due.
func (s *Server) setNext(last lastRuns, now time.Time) {
	retry := s.retries()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range jobOrder {
		if sch := s.o.Schedules.of(j); sch != nil {
			s.job(j).Next = dueAt(sch, last.of(j), retry[j], now)
		}
	}
}

// runJob runs one job and records its outcome; a failure is logged,
// counted and retried later.
func (s *Server) runJob(ctx context.Context, job string) {
	start := time.Now()
	s.mu.Lock()
	st := s.job(job)
	st.Running, st.LastStart = true, start
	s.mu.Unlock()
	s.log.Info("job started", "job", job)

	var err error
	if job == JobVerify {
		err = s.verify(ctx)
	} else {
		err = s.backup(ctx, job)
	}
	if ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}

	s.mu.Lock()
	st.Running = false
	if err == nil {
		st.LastSuccess, st.LastError, st.Failures, st.Retry = time.Now(), "", 0, time.Time{}
	} else {
		st.LastError = err.Error()
		st.Failures++
		st.Retry = time.Now().Add(retryDelay(st.Failures))
	}
	failures, retry := st.Failures, st.Retry
	s.mu.Unlock()

	result := "success"
	if err != nil {
		result = "failure"
		s.metrics.errors.WithLabelValues(job).Inc()
		if ctx.Err() == nil {
			s.log.Error("job failed", "job", job, "err", err, "failures", failures, "retry", retry.Format(time.RFC3339))
		}
	} else {
		s.log.Info("job done", "job", job, "seconds", time.Since(start).Seconds())
	}
	s.metrics.runs.WithLabelValues(job, result).Inc()
	s.refresh(ctx)
}

// backup takes one backup of type typ, then expires by the retention rules.
func (s *Server) backup(ctx context.Context, typ string) error {
	c, err := s.cluster(ctx)
	if err != nil {
		return err
	}
	src, err := basebackup.Discover(ctx, s.discovery(c))
	if err != nil {
		return err
	}
	o := s.o.Backup
	o.Repo, o.Cluster, o.Source, o.Type, o.Locker = s.o.Repo, c, src, typ, s.o.Locker
	o.Log = s.log
	start := time.Now()
	m, err := basebackup.Run(ctx, o)
	if err != nil {
		return fmt.Errorf("%s backup: %w", typ, err)
	}
	s.metrics.backupDuration.WithLabelValues(m.Type).Set(time.Since(start).Seconds())
	s.metrics.backupBytes.WithLabelValues(m.Type).Set(float64(m.Size))
	s.metrics.backupStored.WithLabelValues(m.Type).Set(float64(m.StoredSize))
	s.log.Info("backup taken", "label", m.Label, "type", m.Type, "bytes", m.Size, "stored", m.StoredSize, "source", m.Source)
	if s.o.Retention == (repo.Retention{}) {
		return nil
	}
	res, err := s.o.Repo.Expire(ctx, c, s.o.Retention, repo.ExpireOptions{Locker: s.o.Locker})
	if err != nil {
		s.metrics.errors.WithLabelValues("expire").Inc()
		return fmt.Errorf("expire after backup %s: %w", m.Label, err)
	}
	for _, b := range res.Backups {
		s.log.Info("expired", "label", b.Label, "reason", b.Reason)
	}
	if res.WAL.Count > 0 {
		s.log.Info("expired WAL", "first", res.WAL.First, "last", res.WAL.Last, "files", res.WAL.Count)
	}
	for _, g := range res.Earlier {
		s.log.Info("expired WAL of an earlier generation", "generation", g.Generation, "system-id", g.SystemID,
			"first", g.WAL.First, "last", g.WAL.Last, "files", g.WAL.Count)
	}
	return nil
}

// verifyRecord is the last verify, kept in the repository so that every
// server of the cluster knows it.
type verifyRecord struct {
	Time     time.Time `json:"time"`
	Server   string    `json:"server"`
	Errors   int       `json:"errors"`
	Problems []string  `json:"problems,omitempty"`
}

// verify checks the whole repository; problems make it fail.
func (s *Server) verify(ctx context.Context) error {
	c, err := s.cluster(ctx)
	if err != nil {
		return err
	}
	rep, err := s.o.Repo.Verify(ctx, c, repo.VerifyOptions{})
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	rec := verifyRecord{Time: time.Now().UTC(), Server: s.o.Name, Errors: rep.Errors}
	for _, p := range rep.Problems {
		rec.Problems = append(rec.Problems, p.String())
		s.log.Warn("verify", "problem", p.String())
	}
	s.metrics.verifyErrors.Set(float64(rep.Errors))
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, _, err := s.o.Repo.PutObject(ctx, repo.VerifyRecordKey(s.o.Cluster.Name), data, false); err != nil {
		return fmt.Errorf("record verify: %w", err)
	}
	if rep.Errors > 0 {
		return fmt.Errorf("verify found %d problems, the first: %s", rep.Errors, rec.Problems[0])
	}
	return nil
}

// lastVerify reads the last verify's time; zero if none.
func (s *Server) lastVerify(ctx context.Context) (time.Time, error) {
	var buf bytes.Buffer
	_, err := s.o.Repo.ReadObject(ctx, repo.VerifyRecordKey(s.o.Cluster.Name), &buf)
	if errors.Is(err, storage.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	var rec verifyRecord
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", repo.VerifyRecordKey(s.o.Cluster.Name), err)
	}
	return rec.Time, nil
}

// lastRuns reads from the repository when each job last ran.
func (s *Server) lastRuns(ctx context.Context) (lastRuns, error) {
	if _, err := s.refreshBackups(ctx); err != nil {
		return lastRuns{}, err
	}
	var l lastRuns
	s.mu.Lock()
	for _, m := range s.manifests {
		switch m.Type {
		case repo.BackupFull:
			l.Full = latest(l.Full, m.StartTime)
		case repo.BackupDiff:
			l.Diff = latest(l.Diff, m.StartTime)
		case repo.BackupIncr:
			l.Incr = latest(l.Incr, m.StartTime)
		}
	}
	s.mu.Unlock()
	if s.o.Schedules.Verify != nil {
		var err error
		if l.Verify, err = s.lastVerify(ctx); err != nil {
			return lastRuns{}, err
		}
	}
	return l, nil
}
