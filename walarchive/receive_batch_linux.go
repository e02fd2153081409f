package walarchive

import (
	"net"
	"syscall"
)

// batchBytes is how much WAL must wait in the socket before the kernel
// wakes the receiver (or its read deadline passes, at most StatusInterval).
// Under load the walsender sends a small message per commit flush, and one
// wakeup per message (a context switch each) was the largest part of the
// daemon's CPU; 64 KiB is ~10 ms of WAL at 7 MB/s.
const batchBytes = 64 << 10

// batchReads sets SO_RCVLOWAT on the connection's TCP socket to batchBytes
// (on) or back to 1 byte. A read that finds data returns it whatever the
// amount; only the wait for more is batched, so it must be off whenever the
// receiver waits for a reply that is shorter (the end of a timeline,
// TIMELINE_HISTORY): the wait would last until the read deadline, or
// forever without one. Not for synchronous mode, where every flush is
// waited for. Other sockets (Unix domain) are left alone.
func batchReads(c net.Conn, on bool) {
	if u, ok := c.(interface{ NetConn() net.Conn }); ok { // TLS
		c = u.NetConn()
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		lowat := 1
		if on {
			lowat = batchBytes
		}
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, lowat)
	})
}
