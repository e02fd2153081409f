//go:build !linux

package walarchive

import "net"

// batchReads does nothing where SO_RCVLOWAT is not known to batch epoll
// wakeups: every message wakes the receiver.
func batchReads(net.Conn, bool) {}
