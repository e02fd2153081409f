package repo

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps the first size bytes of src read-only when src is a file,
// with the pages of the page cache mapped at once (MAP_POPULATE): hashing
// and compressing then read the file in place, without copying it into
// buffers that a short-lived process pays a page fault per 4 KiB for.
// The file must not shrink while mapped (a touch past its end is SIGBUS):
// EncodeFile's sources are finished WAL segments and spool files.
func mapFile(src io.ReaderAt, size int64) ([]byte, func(), error) {
	f, ok := src.(*os.File)
	if !ok || size <= 0 || int64(int(size)) != size {
		return nil, nil, errors.ErrUnsupported
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() < size {
		return nil, nil, errors.ErrUnsupported
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, nil, err
	}
	return data, func() { unix.Munmap(data) }, nil
}
