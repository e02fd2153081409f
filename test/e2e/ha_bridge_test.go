package e2e

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bridge is a TCP proxy on 127.0.0.1 in front of one address (a member's
// way to etcd). Cut closes every connection and refuses new ones, like a
// network partition; Heal lets connections through again on the same port.
type bridge struct {
	Addr   string // 127.0.0.1:PORT, where clients connect
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// startBridge starts a bridge to target on a free port and closes it at
// cleanup.
func startBridge(t *testing.T, target string) *bridge {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &bridge{Addr: ln.Addr().String(), target: target, conns: map[net.Conn]bool{}}
	b.serve(ln)
	t.Cleanup(b.Cut)
	return b
}

// serve accepts on ln until it is closed.
func (b *bridge) serve(ln net.Listener) {
	b.mu.Lock()
	b.ln = ln
	b.mu.Unlock()
	b.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.wg.Go(func() { b.pipe(c) })
		}
	})
}

// pipe copies between the client c and a new connection to the target.
func (b *bridge) pipe(c net.Conn) {
	up, err := net.DialTimeout("tcp", b.target, time.Second)
	if err != nil || !b.track(c, up) {
		c.Close()
		if up != nil {
			up.Close()
		}
		return
	}
	var once sync.Once
	closeBoth := func() { once.Do(func() { c.Close(); up.Close(); b.untrack(c, up) }) }
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(up, c); closeBoth() })
	wg.Go(func() { _, _ = io.Copy(c, up); closeBoth() })
	wg.Wait()
}

// track registers a pair of connections unless the bridge is cut.
func (b *bridge) track(conns ...net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ln == nil {
		return false
	}
	for _, c := range conns {
		b.conns[c] = true
	}
	return true
}

func (b *bridge) untrack(conns ...net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range conns {
		delete(b.conns, c)
	}
}

// Cut closes the listener and every open connection, and waits until the
// bridge's goroutines have ended. Cutting a cut bridge does nothing.
func (b *bridge) Cut() {
	b.mu.Lock()
	if b.ln != nil {
		b.ln.Close()
		b.ln = nil
	}
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// Heal listens again on the same port.
func (b *bridge) Heal(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may linger a moment after the close
		if ln, err = net.Listen("tcp", b.Addr); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("heal the bridge on %s: %v", b.Addr, err)
	}
	b.serve(ln)
}
