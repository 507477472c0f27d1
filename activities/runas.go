package activities

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// RunAs is the user shell commands run as instead of the worker's own
// (CHAPTASK_RUN_AS). A command then cannot read the worker's memory,
// environment or files, the data directory among them, unless that user
// may. The worker must be root to switch users.
type RunAs struct {
	// Name is the user's name, or its uid when it has none.
	Name string
	UID  uint32
	GID  uint32
	// Home is the user's home directory, the command's HOME.
	Home string
}

// prepare makes cmd run as r: its credentials without supplementary
// groups, HOME, USER and LOGNAME of the user, and a fresh working
// directory of its own (the worker's may not be readable to the user).
// The returned func removes that directory.
func (r *RunAs) prepare(cmd *exec.Cmd) (func(), error) {
	if r == nil {
		return func() {}, nil
	}
	dir, err := os.MkdirTemp("", "chaptask-run-")
	if err != nil {
		return nil, fmt.Errorf("working directory for %s: %w", r.Name, err)
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	if err := os.Chown(dir, int(r.UID), int(r.GID)); err != nil {
		cleanup()
		return nil, fmt.Errorf("working directory for %s: %w", r.Name, err)
	}
	cmd.Dir = dir
	// An empty Groups drops the worker's supplementary groups.
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: r.UID, Gid: r.GID, Groups: []uint32{}}
	env := make([]string, 0, len(cmd.Env)+3)
	for _, kv := range cmd.Env {
		name, _, _ := strings.Cut(kv, "=")
		if name != "HOME" && name != "USER" && name != "LOGNAME" {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HOME="+r.Home, "USER="+r.Name, "LOGNAME="+r.Name)
	return cleanup, nil
}

// String names the user and group, as logs show them.
func (r *RunAs) String() string {
	return r.Name + " (uid " + strconv.FormatUint(uint64(r.UID), 10) + ", gid " + strconv.FormatUint(uint64(r.GID), 10) + ")"
}
