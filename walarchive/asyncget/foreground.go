package asyncget

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/pgkeep/pgkeep/pg"
)

// Foreground is what PostgreSQL's restore_command runs in async mode.
type Foreground struct {
	Dir   string // the spool of the recovering data directory (see Dir)
	Start func() error
	// Fetch is the synchronous archive-get (walarchive.Get on the opened
	// repository), for every file the spool does not hold.
	Fetch func(ctx context.Context, name, dest string) error
	Log   *slog.Logger
}

// Get restores WAL file name into dest. A segment is taken from the spool
// when the prefetcher has it; everything else, and a segment it does not
// have, is fetched as by the synchronous archive-get, with its errors.
// Before that, Get records the segment as the one recovery asked for and
// starts the prefetcher (Start), so that it fetches the segments after it.
// It reports whether the file came from the spool.
func (f *Foreground) Get(ctx context.Context, name, dest string) (fromSpool bool, err error) {
	w, err := pg.ParseWALName(name)
	if err != nil || w.Kind != pg.KindSegment {
		return false, f.Fetch(ctx, name, dest)
	}
	if err := f.prepare(name); err != nil {
		f.Log.Warn("async archive-get: cannot use the spool; fetching directly", "wal", name, "err", err)
		return false, f.Fetch(ctx, name, dest)
	}
	err = take(f.Dir, name, dest)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		f.Log.Warn("async archive-get: cannot take the segment from the spool; fetching directly", "wal", name, "err", err)
	}
	return false, f.Fetch(ctx, name, dest)
}

// prepare records name as wanted and makes sure a prefetcher runs.
func (f *Foreground) prepare(name string) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return err
	}
	if err := writeWant(f.Dir, name); err != nil {
		return err
	}
	if err := f.Start(); err != nil {
		return fmt.Errorf("start the prefetcher: %w", err)
	}
	return nil
}
