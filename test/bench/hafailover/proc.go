package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// etcdProc is Debian's etcd on loopback ports.
type etcdProc struct {
	endpoint string // 127.0.0.1:PORT
	cmd      *exec.Cmd
}

func startEtcd(work string) (*etcdProc, error) {
	p := newPorts()
	client, peer := p.next(), p.next()
	cu, pu := fmt.Sprintf("http://127.0.0.1:%d", client), fmt.Sprintf("http://127.0.0.1:%d", peer)
	logf, err := os.Create(filepath.Join(work, "etcd.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("/usr/bin/etcd", "--name", "bench", "--data-dir", filepath.Join(work, "etcd"),
		"--listen-client-urls", cu, "--advertise-client-urls", cu,
		"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
		"--initial-cluster", "bench="+pu, "--log-level", "warn", "--logger", "zap")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	e := &etcdProc{endpoint: fmt.Sprintf("127.0.0.1:%d", client), cmd: cmd}
	err = waitFor(30*time.Second, "etcd to serve", func() error {
		resp, err := http.Get(cu + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("/health %d", resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		e.stop()
		return nil, err
	}
	return e, nil
}

func (e *etcdProc) stop() {
	_ = e.cmd.Process.Kill()
	_ = e.cmd.Wait()
}

// ports hands out free loopback ports.
type ports struct{ seen map[int]bool }

func newPorts() *ports { return &ports{seen: map[int]bool{}} }

func (p *ports) next() int {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !p.seen[port] {
			p.seen[port] = true
			return port
		}
	}
}

// waitFor polls cond every 20 ms until it returns nil or timeout passes.
func waitFor(timeout time.Duration, what string, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killPostmaster SIGKILLs the postmaster of dataDir and all its children.
func killPostmaster(dataDir string) error {
	pid, err := postmasterPID(dataDir)
	if err != nil {
		return err
	}
	_ = syscall.Kill(pid, syscall.SIGSTOP) // forks nothing more
	kids := children(pid)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
	return nil
}

// postmasterPID reads the first line of postmaster.pid.
func postmasterPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

// alive reports whether pid runs (and is no zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}

// children lists the pids whose parent is ppid.
func children(ppid int) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var kids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if f := statFields(pid); len(f) > 2 && f[1] == strconv.Itoa(ppid) {
			kids = append(kids, pid)
		}
	}
	return kids
}

// statFields are the fields of /proc/PID/stat after the command name:
// state, ppid, pgrp, ... (utime and stime are f[11] and f[12]).
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// cpuTicks is utime+stime of pid in clock ticks (100 per second on Linux).
func cpuTicks(pid int) int64 {
	f := statFields(pid)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// rssKB is VmRSS of pid.
func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
