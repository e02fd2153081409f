package harness

import (
	"fmt"
	"net"
	"sync"
	"testing"
)

// handedOut remembers the ports given out by this process, so that two
// servers started by the same test binary never get the same one.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process may still take it before it is used, so callers retry on
// "address already in use".
func freePort() (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if err := l.Close(); err != nil {
			return 0, fmt.Errorf("release probe port %d: %w", port, err)
		}
		handedOut.Lock()
		seen := handedOut.ports[port]
		handedOut.ports[port] = true
		handedOut.Unlock()
		if !seen {
			return port, nil
		}
	}
	return 0, fmt.Errorf("find a free port: every probe returned a port already handed out")
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// a server the test starts itself.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
