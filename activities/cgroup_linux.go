package activities

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// jobCgroups gives every shell command a cgroup (v2) of its own under the
// worker's, so that ending a job ends every process it started, including
// those that left its process group (setsid, double forks, nohup … &):
// cgroup membership is inherited and only a process allowed to write to
// another cgroup can leave.
type jobCgroups struct {
	dir string // <the worker's cgroup>/chaptask-worker-<pid>
}

// workerCgroupPrefix names the directory a worker keeps its jobs' cgroups in.
const workerCgroupPrefix = "chaptask-worker-"

// newJobCgroups prepares the worker's cgroup directory, or says why the
// kernel offers none here (no cgroup v2, no right to create cgroups, or a
// kernel older than 5.14 without cgroup.kill).
func newJobCgroups() (*jobCgroups, error) {
	mount, err := cgroup2Mount()
	if err != nil {
		return nil, err
	}
	own, err := ownCgroup()
	if err != nil {
		return nil, err
	}
	parent := filepath.Join(mount, own)
	// Directories left by workers that died are removed if empty (rmdir
	// refuses a cgroup that still holds processes); live workers' stay.
	if stale, _ := filepath.Glob(filepath.Join(parent, workerCgroupPrefix+"*")); len(stale) > 0 {
		for _, dir := range stale {
			pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(dir), workerCgroupPrefix))
			if err != nil || syscall.Kill(pid, 0) != syscall.ESRCH {
				continue
			}
			jobs, _ := filepath.Glob(filepath.Join(dir, "job-*"))
			for _, j := range jobs {
				_ = os.Remove(j)
			}
			_ = os.Remove(dir)
		}
	}
	dir := filepath.Join(parent, fmt.Sprintf("%s%d", workerCgroupPrefix, os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.kill")); err != nil {
		_ = os.Remove(dir)
		return nil, fmt.Errorf("cgroup %s has no cgroup.kill (Linux 5.14 or later needed): %w", dir, err)
	}
	return &jobCgroups{dir: dir}, nil
}

// cgroup2Mount finds where the cgroup v2 hierarchy is mounted.
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("find cgroup2 mount: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "… mount-point options - fstype source super-options"
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, postFields := strings.Fields(pre), strings.Fields(post)
		if ok && len(fields) >= 5 && len(postFields) >= 1 && postFields[0] == "cgroup2" {
			return fields[4], nil
		}
	}
	return "", errors.New("no cgroup2 file system is mounted")
}

// ownCgroup is the worker's cgroup v2 path, relative to the mount.
func ownCgroup() (string, error) {
	raw, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("read own cgroup: %w", err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok {
			return path, nil
		}
	}
	return "", errors.New("the worker is in no cgroup v2")
}

// jobCgroup is the cgroup of one command.
type jobCgroup struct {
	dir string
	fd  *os.File
}

// create makes the cgroup of a command of job jobID.
func (g *jobCgroups) create(jobID string) (*jobCgroup, error) {
	if g == nil {
		return nil, nil
	}
	// Schedules' job ids hold ':'; cgroup names allow anything but '/'.
	dir, err := os.MkdirTemp(g.dir, "job-"+strings.ReplaceAll(jobID, "/", "_")+"-")
	if err != nil {
		return nil, fmt.Errorf("create cgroup of job %s: %w", jobID, err)
	}
	fd, err := os.Open(dir)
	if err != nil {
		_ = os.Remove(dir)
		return nil, fmt.Errorf("open cgroup of job %s: %w", jobID, err)
	}
	return &jobCgroup{dir: dir, fd: fd}, nil
}

// place makes the command start inside the cgroup (clone3 with
// CLONE_INTO_CGROUP), so not even its first instruction runs outside.
func (c *jobCgroup) place(attr *syscall.SysProcAttr) {
	if c == nil {
		return
	}
	attr.UseCgroupFD = true
	attr.CgroupFD = int(c.fd.Fd())
}

// cgroupKillWait bounds how long kill waits for the killed processes to
// leave the cgroup; SIGKILL cannot be ignored, so this is only reached when
// the kernel is very busy.
const cgroupKillWait = 5 * time.Second

// kill sends SIGKILL to every process in the cgroup and removes it once it
// is empty. A nil cgroup does nothing.
func (c *jobCgroup) kill() error {
	if c == nil {
		return nil
	}
	c.fd.Close()
	if err := os.WriteFile(filepath.Join(c.dir, "cgroup.kill"), []byte("1"), 0); err != nil {
		return fmt.Errorf("kill cgroup %s: %w", c.dir, err)
	}
	deadline := time.Now().Add(cgroupKillWait)
	for {
		// rmdir fails (EBUSY) while a process is left.
		err := os.Remove(c.dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", c.dir, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
