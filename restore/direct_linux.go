package restore

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// oDirect makes restore's writes of new files bypass the page cache: the
// kernel then neither copies every byte into it nor holds gigabytes of
// dirty pages for the final fsync. Delta restore reads with it what is not
// in the page cache.
const oDirect = syscall.O_DIRECT

// mostlyCached reports whether 90% or more of the pages of fd in
// [off, off+n) are in the page cache (off page-aligned). When it cannot
// tell, it says yes: the file is then read through the page cache.
func mostlyCached(fd *os.File, off, n int64) bool {
	page := int64(unix.Getpagesize())
	if n <= 0 || off%page != 0 {
		return true
	}
	m, err := unix.Mmap(int(fd.Fd()), off, int(n), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return true
	}
	defer unix.Munmap(m)
	vec := make([]byte, (n+page-1)/page)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return true
	}
	in := 0
	for _, v := range vec {
		in += int(v & 1)
	}
	return in*10 >= len(vec)*9
}

// preadDirect reads into buf (aligned, of an aligned length) at off from
// a file opened with O_DIRECT, with one pread: near the end of the file it
// returns fewer bytes, and a second read there would be misaligned.
func preadDirect(fd *os.File, buf []byte, off int64) (int, error) {
	for {
		n, err := unix.Pread(int(fd.Fd()), buf, off)
		if err != unix.EINTR {
			return n, err
		}
	}
}
