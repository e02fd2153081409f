// Package durable holds the one fsync helper that every writer of files
// needs: atomic publication by rename is only crash-safe once the
// directory holding the new name is synced too.
package durable

import (
	"fmt"
	"os"
)

// SyncDir fsyncs directory dir, so that the entries created, renamed or
// removed in it survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync dir: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}
