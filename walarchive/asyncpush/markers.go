package asyncpush

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/pgkeep/pgkeep/internal/detach"
)

// doneMarker (done/<name>) records a file the uploader archived, so that
// pushing the same content again returns at once.
type doneMarker struct {
	Size     int64     `json:"size"`
	SHA256   string    `json:"sha256"`
	Archived time.Time `json:"archived"`
	// File identifies the file in pg_wal that the look-ahead archived: a
	// push of that very file, unchanged, needs no hashing.
	File *fileID `json:"file,omitempty"`
}

// fileID identifies a file and its last change (see fileIDOf).
type fileID struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime-ns"`
	Ctime int64  `json:"ctime-ns"`
}

// aheadMarker (ahead/<name>) says that the look-ahead of uploader PID is
// archiving name from pg_wal: a push of name waits for it (done/<name>)
// instead of spooling a copy.
type aheadMarker struct {
	PID int `json:"pid"`
}

// failure (error/<name>) records why the uploader could not archive a file,
// or (error/uploader) could not open the repository.
type failure struct {
	File     string `json:"file"`
	Message  string `json:"message"`
	Conflict bool   `json:"conflict,omitempty"` // other content is archived under the name
	// Permanent: retrying cannot help until someone changes the repository
	// or the spool (a conflict, or a file that is not WAL of the cluster).
	Permanent bool      `json:"permanent,omitempty"`
	Since     time.Time `json:"since"` // the first failure in a row
	Last      time.Time `json:"last"`
	Attempts  int       `json:"attempts"`
}

// writeMarker writes v as JSON under dir/name, replacing it atomically.
// Markers are advisory (a lost one costs a repeated upload or a late
// report, never WAL), so they are not fsynced.
func (s spoolDir) writeMarker(dir, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := s.path(dir, detach.TempName(name, os.Getpid()))
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("async spool: %w", err)
	}
	if err := os.Rename(tmp, s.path(dir, name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("async spool: %w", err)
	}
	return nil
}

// readMarker reads dir/name into v; ok is false when there is none.
func (s spoolDir) readMarker(dir, name string, v any) (ok bool, err error) {
	b, err := os.ReadFile(s.path(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return false, fmt.Errorf("async spool: marker %s/%s: %w", dir, name, err)
	}
	return true, nil
}

// removeMarker removes dir/name; a missing marker is no error.
func (s spoolDir) removeMarker(dir, name string) error {
	if err := os.Remove(s.path(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("async spool: %w", err)
	}
	return nil
}

// failures reads every failure marker.
func (s spoolDir) failures() ([]failure, error) {
	entries, err := os.ReadDir(s.path(errorDir))
	if err != nil {
		return nil, fmt.Errorf("async spool: %w", err)
	}
	var out []failure
	for _, e := range entries {
		if _, tmp := detach.TempOwner(e.Name()); tmp {
			continue
		}
		var f failure
		ok, err := s.readMarker(errorDir, e.Name(), &f)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, f)
		}
	}
	return out, nil
}
