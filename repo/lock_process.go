package repo

import (
	"fmt"
	"os"
	"strings"
)

// processIdentity names a running process uniquely on this host: the
// kernel's boot id and the process's start time (field 22 of
// /proc/PID/stat). "" where /proc is not available.
func processIdentity(pid int) string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) may contain spaces: count from its ")".
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	f := strings.Fields(rest)
	if len(f) < 20 {
		return ""
	}
	return strings.TrimSpace(string(boot)) + "/" + f[19]
}

// holderDied reports whether the lock's holder ran on this host (same host
// name and boot) and its process is gone: such a lock is stale before its
// expiry, so a backup killed with kill -9 does not block the next one.
func (d *lockDoc) holderDied(host string) bool {
	if d.Process == "" || d.Host != host {
		return false
	}
	boot, _, _ := strings.Cut(d.Process, "/")
	mine := processIdentity(os.Getpid())
	if mine == "" || !strings.HasPrefix(mine, boot+"/") {
		return false // another boot or no /proc: only the expiry tells
	}
	return processIdentity(d.PID) != d.Process
}
