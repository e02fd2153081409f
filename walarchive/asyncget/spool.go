package asyncget

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pgkeep/pgkeep/internal/detach"
	"github.com/pgkeep/pgkeep/pg"
)

// Names in a spool directory (see the package documentation).
const (
	wantFile = "want"
	lockFile = "prefetch.lock"
	logFile  = "prefetch.log"
)

// Dir is the spool directory, under archive.spool-path, of the data
// directory pgdata of cluster, whose pg_control holds systemID.
func Dir(spoolPath, cluster string, systemID uint64, pgdata string) string {
	h := fnv.New32a()
	io.WriteString(h, filepath.Clean(pgdata))
	return filepath.Join(spoolPath, "archive-get", cluster, fmt.Sprintf("%d-%08x", systemID, h.Sum32()))
}

// LockPath and LogPath are the prefetcher's lock file and log in dir.
func LockPath(dir string) string { return filepath.Join(dir, lockFile) }
func LogPath(dir string) string  { return filepath.Join(dir, logFile) }

// writeWant records name as the segment recovery asked for last. It is a
// hint for the prefetcher: a lost one costs prefetching, never WAL.
func writeWant(dir, name string) error {
	tmp := filepath.Join(dir, detach.TempName(wantFile, os.Getpid()))
	if err := os.WriteFile(tmp, []byte(name+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, wantFile)); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// want is what the want file says, and when it was written last.
type want struct {
	seg   pg.WALName
	asked time.Time
}

// readWant reads the want file; ok is false when there is none or it
// names no segment.
func readWant(dir string) (w want, ok bool, err error) {
	path := filepath.Join(dir, wantFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return w, false, nil
	}
	if err != nil {
		return w, false, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return w, false, nil // replaced in between: read it next time
	}
	seg, err := pg.ParseWALName(strings.TrimSpace(string(b)))
	if err != nil || seg.Kind != pg.KindSegment {
		return w, false, nil
	}
	return want{seg: seg, asked: fi.ModTime()}, true, nil
}

// take moves the prefetched segment name out of the spool to dest. It
// wraps fs.ErrNotExist when the spool does not hold it. Across file
// systems it copies, then removes the spool's file.
func take(dir, name, dest string) error {
	src := filepath.Join(dir, name)
	err := os.Rename(src, dest)
	if err == nil || !isCrossDevice(err) {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dest + ".pgkeep-tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dest)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	os.Remove(src)
	return nil
}

// spooled is a listing of the spool: the names of prefetched segments,
// and temporary files.
type spooled struct {
	segments map[string]bool
	temps    []string
}

func list(dir string) (spooled, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return spooled{}, err
	}
	l := spooled{segments: map[string]bool{}}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		if _, ok := detach.TempOwner(name); ok {
			l.temps = append(l.temps, name)
			continue
		}
		if w, err := pg.ParseWALName(name); err == nil && w.Kind == pg.KindSegment {
			l.segments[name] = true
		}
	}
	return l, nil
}

func isCrossDevice(err error) bool { return errors.Is(err, syscall.EXDEV) }
