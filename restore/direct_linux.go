package restore

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// oDirect makes restore's writes of new files bypass the page cache: the
// kernel then neither copies every byte into it nor holds gigabytes of
// dirty pages for the final fsync.
const oDirect = syscall.O_DIRECT

// willNeed asks the kernel to start reading n bytes of fd at off into the
// page cache. Delta workers read parts of one file at different offsets
// through one descriptor, which the kernel's readahead takes for random
// reads: without the hint each 1 MiB read waits for the disk and the
// hashing never overlaps it. A hint that fails costs nothing but speed.
func willNeed(fd *os.File, off, n int64) {
	_ = unix.Fadvise(int(fd.Fd()), off, n, unix.FADV_WILLNEED)
}
