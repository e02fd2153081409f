package harness

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// procStat holds the fields of /proc/PID/stat the harness needs.
type procStat struct {
	state byte
	ppid  int
	pgrp  int
}

// readProcStat parses /proc/PID/stat. The command name may hold spaces and
// parentheses, so fields are counted from the last ')'.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:])) // state ppid pgrp ...
	if len(f) < 3 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat ppid: %w", pid, err)
	}
	pgrp, err := strconv.Atoi(f[2])
	if err != nil {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat pgrp: %w", pid, err)
	}
	return procStat{state: f[0][0], ppid: ppid, pgrp: pgrp}, nil
}

// alive reports whether pid runs; a zombie is not alive.
func alive(pid int) bool {
	st, err := readProcStat(pid)
	return err == nil && st.state != 'Z'
}

// isPostmaster reports whether pid is a live postmaster of dataDir (and not a
// recycled pid). The postmaster keeps its command line, "postgres -D dataDir".
func isPostmaster(pid int, dataDir string) bool {
	if !alive(pid) {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(cmdline, []byte(dataDir))
}

// allProcs returns the stat of every process, skipping those that exit
// while being read.
func allProcs() (map[int]procStat, error) {
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	procs := make(map[int]procStat, len(dirs))
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil {
			procs[pid] = st
		}
	}
	return procs, nil
}

// childrenOf returns the pids of the live children of ppid.
func childrenOf(ppid int) ([]int, error) {
	procs, err := allProcs()
	if err != nil {
		return nil, err
	}
	var kids []int
	for pid, st := range procs {
		if st.ppid == ppid && st.state != 'Z' {
			kids = append(kids, pid)
		}
	}
	return kids, nil
}

// anyGroupAlive returns a live process in one of the process groups pgrps,
// or 0 if there is none.
func anyGroupAlive(pgrps []int) (int, error) {
	procs, err := allProcs()
	if err != nil {
		return 0, err
	}
	for pid, st := range procs {
		if st.state != 'Z' && slices.Contains(pgrps, st.pgrp) {
			return pid, nil
		}
	}
	return 0, nil
}

// reaped reports whether pid is gone entirely, not even a zombie.
func reaped(pid int) bool {
	_, err := readProcStat(pid)
	return err != nil
}
