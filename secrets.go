package chaptask

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/chaptask/chaptask/activities"
)

// protectSecrets keeps the service's secrets (database URL, API keys, the
// data directory) from the commands it runs, as far as the process can:
//
//   - the process is made non-dumpable, so a process of the same user that
//     is not root can neither read /proc/<pid>/environ, mem, maps or fd
//     nor attach a debugger;
//   - descriptors it inherited are made close-on-exec, so commands get
//     only stdin, stdout and stderr;
//   - the data directory is made 0700, closed to other users;
//   - with CHAPTASK_RUN_AS, commands run as another user, which is what
//     protects against a command that would otherwise run as root (root
//     reads every process and file) or read the data directory of its own
//     user.
//
// It returns the run-as user, nil for none. What it cannot fix it logs:
// a database URL given as a flag is in /proc/<pid>/cmdline for every local
// user, and a keys file other users can read is theirs too.
func protectSecrets(cfg config, args []string, logger *slog.Logger) (*activities.RunAs, error) {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("make the process non-dumpable: %w", err)
	}
	inheritedCloseOnExec()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("restrict data directory %s to its owner: %w", cfg.DataDir, err)
	}
	for _, arg := range args[min(1, len(args)):] {
		if name := strings.TrimLeft(arg, "-"); name != arg && strings.HasPrefix(name, "database-url") {
			logger.Warn("the database URL is a command-line flag: every local user can read it in the process list; set DATABASE_URL instead")
			break
		}
	}
	if cfg.APIKeysFile != "" {
		if fi, err := os.Stat(cfg.APIKeysFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			logger.Warn("the API keys file is readable by other users; make it 0600 (or 0400)",
				"file", cfg.APIKeysFile, "mode", fi.Mode().Perm().String())
		}
	}
	if cfg.RunAs == "" {
		return nil, nil
	}
	as, err := lookupRunAs(cfg.RunAs)
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("CHAPTASK_RUN_AS=%s: switching users needs the service to run as root", cfg.RunAs)
	}
	if as.UID == 0 {
		return nil, fmt.Errorf("CHAPTASK_RUN_AS=%s: that is root, which can read every secret of the service", cfg.RunAs)
	}
	logger.Info("shell commands run as another user", "user", as.String())
	return as, nil
}

// inheritedCloseOnExec marks every descriptor above stderr close-on-exec.
// Go opens its own that way, but descriptors the service inherited from
// whatever started it (a shell, a supervisor) would otherwise pass on to
// every command it runs.
func inheritedCloseOnExec() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return // no /proc: nothing to learn the descriptors from
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}

// lookupRunAs resolves "user" or "user:group" (names or numeric ids).
func lookupRunAs(spec string) (*activities.RunAs, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	u, err := user.Lookup(userPart)
	if err != nil {
		var unknown user.UnknownUserError
		if _, convErr := strconv.ParseUint(userPart, 10, 32); convErr == nil || !errors.As(err, &unknown) {
			u, err = user.LookupId(userPart)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("CHAPTASK_RUN_AS=%s: user %q: %w", spec, userPart, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("CHAPTASK_RUN_AS=%s: uid %q is not numeric", spec, u.Uid)
	}
	gidStr := u.Gid
	if hasGroup {
		g, err := user.LookupGroup(groupPart)
		if err != nil {
			if g, err = user.LookupGroupId(groupPart); err != nil {
				return nil, fmt.Errorf("CHAPTASK_RUN_AS=%s: group %q: %w", spec, groupPart, err)
			}
		}
		gidStr = g.Gid
	}
	gid, err := strconv.ParseUint(gidStr, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("CHAPTASK_RUN_AS=%s: gid %q is not numeric", spec, gidStr)
	}
	home := u.HomeDir
	if home == "" {
		home = "/"
	}
	return &activities.RunAs{Name: u.Username, UID: uint32(uid), GID: uint32(gid), Home: home}, nil
}

// connectionCap is the HTTP connection cap: the configured one, but at
// most half the process's file descriptor limit, so the database, the
// embedded Temporal server and the workers keep descriptors to work with.
func connectionCap(configured int, logger *slog.Logger) int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == unix.RLIM_INFINITY {
		return configured
	}
	if half := int(lim.Cur / 2); half < configured {
		logger.Info("HTTP connection cap lowered to half the file descriptor limit",
			"configured", configured, "cap", half, "nofile", lim.Cur)
		return max(half, 16)
	}
	return configured
}
