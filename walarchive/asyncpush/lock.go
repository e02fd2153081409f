package asyncpush

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// tryLock takes the uploader lock of the spool without waiting: ok is
// false when another process holds it. Closing the file releases it; so
// does the kernel when the holder dies, even by kill -9.
func tryLock(path string) (f *os.File, ok bool, err error) {
	f, err = os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("async spool: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("async spool: lock %s: %w", path, err)
	}
	return f, true, nil
}

// writePID records the holder's pid in the lock file, for operators.
func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// lockStillOurs reports whether path is still the file that f locks. When
// the spool is deleted and made again under a running uploader, a new
// lock file would let a second uploader start; the first must then stop.
func lockStillOurs(f *os.File, path string) bool {
	held, err := f.Stat()
	if err != nil {
		return false
	}
	cur, err := os.Stat(path)
	return err == nil && os.SameFile(held, cur)
}
