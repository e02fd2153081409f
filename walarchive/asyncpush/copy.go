package asyncpush

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pgkeep/pgkeep/internal/detach"
	"github.com/pgkeep/pgkeep/internal/durable"
)

// writeTemp copies src (from its start) into a new temporary file of the
// spool and fsyncs it; it returns the temporary file's path. Nothing is
// accepted until publish.
func (s spoolDir) writeTemp(name string, src *os.File) (string, error) {
	tmp := s.path(detach.TempName(name, os.Getpid()))
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrExist) {
		// Left by an earlier process with our pid: not published, so ours to replace.
		if err = os.Remove(tmp); err == nil {
			f, err = os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		}
	}
	if err != nil {
		return "", fmt.Errorf("spool %s: %w", name, err)
	}
	err = copyAndSync(f, src)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("spool %s: %w", name, err)
	}
	return tmp, nil
}

// copyAndSync copies src from its start into dst and fsyncs dst. On Linux
// the copy is copy_file_range(2): no bytes pass through user space.
func copyAndSync(dst, src *os.File) error {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		return err
	}
	return dst.Sync()
}

// publish makes the temporary file tmp the queued file name, durably:
// rename and fsync of the directory.
func (s spoolDir) publish(tmp, name string) error {
	if err := os.Rename(tmp, s.path(name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool %s: %w", name, err)
	}
	if err := durable.SyncDir(s.dir); err != nil {
		return fmt.Errorf("spool %s: %w", name, err)
	}
	return nil
}

// sameContent reports whether the files a and b hold the same bytes.
func sameContent(a, b *os.File) (bool, error) {
	ai, err := a.Stat()
	if err != nil {
		return false, err
	}
	bi, err := b.Stat()
	if err != nil {
		return false, err
	}
	if ai.Size() != bi.Size() {
		return false, nil
	}
	const chunk = 1 << 20
	abuf, bbuf := make([]byte, chunk), make([]byte, chunk)
	for off := int64(0); off < ai.Size(); off += chunk {
		n, err := a.ReadAt(abuf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		if _, err := b.ReadAt(bbuf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		if !bytes.Equal(abuf[:n], bbuf[:n]) {
			return false, nil
		}
	}
	return true, nil
}

// hashFile returns the size and hex SHA-256 of f's content.
func hashFile(f *os.File) (int64, string, error) {
	h := sha256.New()
	n, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<40))
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
