package activities

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// reaper ends a job's processes where there are no cgroups: the worker
// becomes a child subreaper (PR_SET_CHILD_SUBREAPER), so a process that
// leaves a job's process group and loses its parent is re-parented to the
// worker instead of PID 1, and the reaper kills what the job left behind
// (recognised by the CHAPTASK_JOB_ID in its environment) and reaps it.
//
// The worker's own commands are its children too and os/exec waits for
// them by pid: the reaper never touches a registered pid, and a command is
// registered before the reaper can see it (under mu).
type reaper struct {
	mu       sync.RWMutex // held to read while commands start, to write while reaping
	cmdMu    sync.Mutex   // guards commands, written by many starts at once
	commands map[int]bool // pids os/exec waits for
}

func newReaper() (*reaper, error) {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return nil, fmt.Errorf("become a child subreaper: %w", errno)
	}
	return &reaper{commands: map[int]bool{}}, nil
}

// start starts a command and registers it; done deregisters it once
// os/exec has waited for it. A nil reaper only starts.
func (r *reaper) start(start func() error, pid func() int) error {
	if r == nil {
		return start()
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if err := start(); err != nil {
		return err
	}
	r.cmdMu.Lock()
	r.commands[pid()] = true
	r.cmdMu.Unlock()
	return nil
}

func (r *reaper) done(pid int) {
	if r == nil {
		return
	}
	r.cmdMu.Lock()
	delete(r.commands, pid)
	r.cmdMu.Unlock()
}

// maxReapRounds bounds the rounds of reap: each round kills one generation
// of re-parented processes.
const maxReapRounds = 20

// reap kills the processes of job jobID (whose command led process group
// pgid) that were re-parented to the worker, with their process groups, and
// reaps them. Their children, re-parented in turn, go in the next round.
//
// A zombie's environment cannot be read: one is taken for the job's when it
// is in the job's process group or in a session other than the worker's
// (setsid). A registered Go function's own child, which os/exec waits for,
// is in neither.
func (r *reaper) reap(jobID string, pgid int) {
	if r == nil {
		return
	}
	marker := []byte("CHAPTASK_JOB_ID=" + jobID + "\x00")
	self := os.Getpid()
	var selfSID int
	for _, p := range processes([]string{"/proc/self/stat"}) {
		selfSID = p.sid
	}
	for range maxReapRounds {
		found := false
		r.mu.Lock()
		all, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, child := range processes(all) {
			if child.ppid != self {
				continue
			}
			r.cmdMu.Lock()
			command := r.commands[child.pid]
			r.cmdMu.Unlock()
			if command {
				continue
			}
			if child.state == "Z" && child.pgid != pgid && child.sid == selfSID {
				continue
			}
			if child.state != "Z" {
				env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", child.pid))
				if err != nil || !bytes.Contains(env, marker) {
					continue // another job's, or gone
				}
				if child.pgid == child.pid {
					_ = syscall.Kill(-child.pid, syscall.SIGKILL)
				}
				_ = syscall.Kill(child.pid, syscall.SIGKILL)
			}
			// Not blocking: one that is not dead yet is reaped next round.
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(child.pid, &ws, syscall.WNOHANG, nil)
			found = true
		}
		r.mu.Unlock()
		if !found {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type process struct {
	pid, ppid, pgid, sid int
	state                string
}

// processes reads the processes whose /proc/<pid>/stat files are named.
func processes(stats []string) []process {
	var out []process
	for _, path := range stats {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue // exited while we looked
		}
		// pid (comm) state ppid pgrp session …; comm may hold spaces and ')'.
		open, end := bytes.IndexByte(raw, ' '), bytes.LastIndexByte(raw, ')')
		if open < 0 || end < 0 {
			continue
		}
		fields := strings.Fields(string(raw[end+1:]))
		if len(fields) < 4 {
			continue
		}
		p := process{state: fields[0]}
		p.pid, _ = strconv.Atoi(string(raw[:open]))
		p.ppid, _ = strconv.Atoi(fields[1])
		p.pgid, _ = strconv.Atoi(fields[2])
		p.sid, _ = strconv.Atoi(fields[3])
		out = append(out, p)
	}
	return out
}
