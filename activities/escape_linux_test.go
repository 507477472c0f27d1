package activities

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// escapingCommand starts a setsid child and a double-forked one (a new
// session whose intermediate exits). Each writes its own pid once it is in
// its new session, and the command ends only after both have: a pid
// written by the parent ($!) could belong to a child not yet escaped, which
// the end of the command's process group would then kill.
func escapingCommand(dir string) string {
	return `setsid sh -c 'echo $$ > ` + dir + `/setsid; exec sleep 300' >/dev/null 2>&1 &
( setsid sh -c 'echo $$ > ` + dir + `/double; exec sleep 301' >/dev/null 2>&1 & ) &
while [ ! -s ` + dir + `/setsid ] || [ ! -s ` + dir + `/double ]; do sleep 0.01; done`
}

func escapedPIDs(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	for _, name := range []string{"setsid", "double"} {
		raw, _ := os.ReadFile(dir + "/" + name)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
		if pid == 0 {
			t.Fatalf("no %s pid written", name)
		}
		pids = append(pids, pid)
	}
	return pids
}

func runEscaping(t *testing.T, procs jobProcs) []int {
	t.Helper()
	dir := t.TempDir()
	env := append(ShellEnv(os.Getenv), "CHAPTASK_JOB_ID="+procs.jobID)
	run, err := runShell(context.Background(), escapingCommand(dir), env, nil, 1<<20, 500*time.Millisecond, time.Hour, func() {}, nil, procs)
	if err != nil || run.exitCode != 0 {
		t.Fatalf("run: %v, exit %d", err, run.exitCode)
	}
	return escapedPIDs(t, dir)
}

// Without cgroups, the worker as child subreaper kills what left the
// command's process group, and only that job's. (The test process stays a
// subreaper afterwards, which no other test minds.)
func TestRunShellReaperKillsEscapees(t *testing.T) {
	r, err := newReaper()
	if err != nil {
		t.Skipf("no child subreaper here: %v", err)
	}
	// Another job's escapee stays until that job ends.
	other := runEscaping(t, jobProcs{jobID: "01OTHERJOB"})
	for _, pid := range runEscaping(t, jobProcs{reaper: r, jobID: "01THISJOB"}) {
		waitDead(t, pid)
	}
	for _, pid := range other {
		if !alive(pid) {
			t.Errorf("process %d of another job was killed", pid)
		}
	}
	r.reap("01OTHERJOB", 0)
	for _, pid := range other {
		waitDead(t, pid)
	}
}

// Where the worker may create cgroups, a command's cgroup ends everything
// it started.
func TestRunShellCgroupKillsEscapees(t *testing.T) {
	cgroups, err := newJobCgroups()
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	t.Cleanup(func() { os.Remove(cgroups.dir) })
	cg, err := cgroups.create("01THISJOB")
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range runEscaping(t, jobProcs{cgroup: cg, jobID: "01THISJOB"}) {
		waitDead(t, pid)
	}
}
