package asyncpush

import (
	"os"
	"syscall"
)

// fileIDOf identifies the file behind fi: device, inode, size, and the
// modification and change times in nanoseconds. Writing to the file or
// renaming, linking or recycling it changes the change time, so an equal
// fileID means the same, unchanged file.
func fileIDOf(fi os.FileInfo) *fileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	return &fileID{
		Dev: uint64(st.Dev), Ino: st.Ino, Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
	}
}
