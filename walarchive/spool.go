package walarchive

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/pgkeep/pgkeep/internal/detach"
	"github.com/pgkeep/pgkeep/internal/durable"
	"github.com/pgkeep/pgkeep/pg"
)

// The receiver's spool is a local directory holding:
//
//	<segment>.partial  the segment being received (written in place, fsynced)
//	                   or the last, unfinished segment of an ended timeline
//	<segment>          finished segments waiting for upload
//	<tli>.history      timeline history files waiting for upload
//	receiver.state     where streaming resumes (spoolState)
//	receiver.lock      held (flock) by the one receiver using the spool
//
// A file leaves the spool only once the repository holds it durably.
const (
	spoolStateFile = "receiver.state"
	spoolLockFile  = "receiver.lock"
)

// spoolState is the state file: WAL of Timeline is durable in the spool or
// the archive up to LSN. Streaming resumes at the start of LSN's segment.
type spoolState struct {
	SystemID uint64    `json:"system-id,string"`
	Timeline uint32    `json:"timeline"`
	LSN      string    `json:"lsn"`
	Written  time.Time `json:"written"`
}

// spool is an open spool directory, locked for one receiver.
type spool struct {
	dir  string
	lock *os.File
}

// openSpool creates dir if needed and locks it; a second receiver on the
// same spool would interleave writes, so it is refused.
func openSpool(dir string) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	f, ok, err := detach.TryLock(filepath.Join(dir, spoolLockFile))
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	if !ok {
		return nil, fmt.Errorf("spool %s is in use by another receiver", dir)
	}
	return &spool{dir: dir, lock: f}, nil
}

// close releases the lock.
func (s *spool) close() { s.lock.Close() }

func (s *spool) path(name string) string { return filepath.Join(s.dir, name) }

// readState returns the state file; ok is false when there is none.
func (s *spool) readState() (st spoolState, lsn pg.LSN, ok bool, err error) {
	b, err := os.ReadFile(s.path(spoolStateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, 0, false, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err == nil {
		lsn, err = pg.ParseLSN(st.LSN)
	}
	if err != nil {
		return st, 0, false, fmt.Errorf("spool state %s: %w", s.path(spoolStateFile), err)
	}
	return st, lsn, true, nil
}

// writeState replaces the state file atomically and durably.
func (s *spool) writeState(sysid uint64, tli uint32, lsn pg.LSN) error {
	b, err := json.Marshal(spoolState{SystemID: sysid, Timeline: tli, LSN: lsn.String(), Written: time.Now().UTC()})
	if err != nil {
		return err
	}
	return s.writeFile(spoolStateFile, append(b, '\n'))
}

// writeFile publishes name with data: temporary file, fsync, rename,
// fsync of the directory.
func (s *spool) writeFile(name string, data []byte) error {
	tmp := s.path("." + name + ".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path(name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool: write %s: %w", name, err)
	}
	return s.syncDir()
}

// rename renames a spool file durably.
func (s *spool) rename(from, to string) error {
	if err := os.Rename(s.path(from), s.path(to)); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return s.syncDir()
}

// remove deletes a spool file durably; a missing file is fine.
func (s *spool) remove(name string) error {
	if err := os.Remove(s.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	return s.syncDir()
}

// syncDir makes the directory's entries durable.
func (s *spool) syncDir() error {
	if err := durable.SyncDir(s.dir); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// walFiles lists the WAL files in the spool (segments, .partial and
// .history files) in name order, which is WAL order within a timeline and
// puts a timeline's history file before its segments.
func (s *spool) walFiles() ([]pg.WALName, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var out []pg.WALName
	for _, e := range entries {
		if w, err := pg.ParseWALName(e.Name()); err == nil && e.Type().IsRegular() {
			out = append(out, w)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
