package activities

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// shellEnvKeys are the variables of the worker's environment a command
// inherits.
var shellEnvKeys = []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TZ", "TMPDIR"}

// shellRun is a finished shell command.
type shellRun struct {
	stdout, stderr *capture
	exitCode       int
}

// runShell runs command with sh -c in its own process group. When ctx ends
// (canceled or past its deadline) the whole group gets SIGTERM, then SIGKILL
// after grace, and runShell returns ctx.Err() with the output so far. Once the command
// has exited, stragglers left in its group are killed too, so a job never
// leaves processes behind. heartbeat is called every tick while it runs.
//
// live, when not nil, receives the output as it arrives.
//
// as, when not nil, is the user the command runs as.
//
// procs ends the processes that left the command's process group (setsid,
// double forks) once it has ended.
func runShell(ctx context.Context, command string, env []string, as *RunAs, maxBytes int64, grace time.Duration, tick time.Duration, heartbeat func(), live *liveLog, procs jobProcs) (shellRun, error) {
	run := shellRun{stdout: newCapture(maxBytes), stderr: newCapture(maxBytes)}
	newCmd := func() *exec.Cmd {
		cmd := exec.Command("/bin/sh", "-c", command)
		cmd.Env = env
		cmd.Stdout = io.MultiWriter(run.stdout, live.writer("stdout"))
		cmd.Stderr = io.MultiWriter(run.stderr, live.writer("stderr"))
		cmd.Stdin = nil
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		// A background child holding stdout open must not keep the job
		// running after the command exited.
		cmd.WaitDelay = grace
		return cmd
	}
	cmd := newCmd()
	cleanup, err := as.prepare(cmd)
	if err != nil {
		return run, err
	}
	defer cleanup()
	cg := procs.cgroup
	cg.place(cmd.SysProcAttr)
	start := func() error { return cmd.Start() }
	pid := func() int { return cmd.Process.Pid }
	err = procs.reaper.start(start, pid)
	if err != nil && cg != nil {
		// The kernel refused the placement (as a seccomp filter that
		// blocks clone3 does): run with the process group alone, as the
		// same user in the same directory.
		prepared := cmd
		cg, cmd = nil, newCmd()
		cmd.Dir, cmd.Env, cmd.SysProcAttr.Credential = prepared.Dir, prepared.Env, prepared.SysProcAttr.Credential
		err = procs.reaper.start(start, pid)
	}
	if err != nil {
		return run, err
	}
	pgid := cmd.Process.Pid
	defer procs.reaper.done(pgid)
	killGroup := func(sig syscall.Signal) { _ = syscall.Kill(-pgid, sig) }

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	var waitErr error
	canceled := false
loop:
	for {
		select {
		case waitErr = <-done:
			break loop
		case <-ticker.C:
			heartbeat()
		case <-ctx.Done():
			canceled = true
			killGroup(syscall.SIGTERM)
			select {
			case waitErr = <-done:
			case <-time.After(grace):
				killGroup(syscall.SIGKILL)
				waitErr = <-done
			}
			break loop
		}
	}
	killGroup(syscall.SIGKILL)
	// Every process left gets SIGKILL; one that is slow to die leaves an
	// empty cgroup behind, which the next worker start removes. Failing
	// the step for it would run the command again.
	_ = cg.kill()
	procs.reaper.reap(procs.jobID, pgid)

	// Set even when ctx ended: a timed-out run reports the signal that
	// stopped it.
	run.exitCode = exitCode(cmd.ProcessState)
	if canceled {
		return run, ctx.Err()
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return run, waitErr
	}
	return run, nil
}

// jobProcs is how a job's processes outside its process group are ended:
// its own cgroup where the kernel offers one, else the reaper; neither
// (the zero value) leaves them to the process group alone.
type jobProcs struct {
	cgroup *jobCgroup
	reaper *reaper
	jobID  string
}

// exitCode reports the exit status, or minus the signal number for a command
// killed by a signal (as Python's subprocess does, which chapkit clients expect).
func exitCode(state *os.ProcessState) int {
	if state == nil {
		return -1
	}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -int(ws.Signal())
	}
	return state.ExitCode()
}

// ShellEnv picks, from the worker's environment read through getenv, the
// variables a shell command inherits: shellEnvKeys only, so service secrets
// such as DATABASE_URL or API keys never reach a job.
func ShellEnv(getenv func(string) string) []string {
	env := make([]string, 0, len(shellEnvKeys))
	for _, k := range shellEnvKeys {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	if getenv("PATH") == "" {
		env = append(env, "PATH=/usr/local/bin:/usr/bin:/bin")
	}
	return env
}
