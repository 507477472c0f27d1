package reliability

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chaptask/chaptask/internal/testclient"
)

// escapees is a shell script that starts processes the way commands leave
// their process group and parent behind, writes each one's pid to
// $dir/<job>.<kind>, and returns once every pid is written.
func escapees(dir string) string {
	f := dir + "/$CHAPTASK_JOB_ID"
	return strings.Join([]string{
		// setsid: a session and process group of its own.
		"setsid sleep 316 >/dev/null 2>&1 & echo $! > " + f + ".setsid",
		// a double fork: the intermediate exits, its child (in a new
		// session) is re-parented.
		"( setsid sleep 317 >/dev/null 2>&1 & echo $! > " + f + ".double ) &",
		// nohup … &: ignores SIGHUP, stays in the group.
		"nohup sleep 318 >/dev/null 2>&1 & echo $! > " + f + ".nohup",
		// a new session whose leader waits on a child of its own.
		"setsid sh -c 'sleep 319 & echo $! > " + dir + "/'$CHAPTASK_JOB_ID'.deep; wait' >/dev/null 2>&1 &",
		"while [ ! -s " + f + ".double ] || [ ! -s " + f + ".deep ]; do sleep 0.02; done",
		"echo spawned",
	}, "\n")
}

var escapeeKinds = []string{"setsid", "double", "nohup", "deep"}

// escapeePIDs reads the pids a job's escapees wrote.
func escapeePIDs(t *testing.T, dir, jobID string) map[string]int {
	t.Helper()
	pids := map[string]int{}
	for _, kind := range escapeeKinds {
		raw, err := os.ReadFile(filepath.Join(dir, jobID+"."+kind))
		if err != nil {
			t.Fatalf("pid of the %s process of job %s: %v", kind, jobID, err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil {
			t.Fatalf("pid of the %s process of job %s: %v", kind, jobID, err)
		}
		pids[kind] = pid
	}
	return pids
}

// sleeping reports whether pid is a live `sleep 31x` (a zombie, whose
// command line is empty, counts as gone).
func sleeping(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.HasPrefix(string(raw), "sleep\x0031")
}

// alive lists the escapees still running.
func alive(pids map[string]int) []string {
	var left []string
	for _, kind := range escapeeKinds {
		if sleeping(pids[kind]) {
			left = append(left, fmt.Sprintf("%s (pid %d)", kind, pids[kind]))
		}
	}
	return left
}

// TestJobLeavesNoProcess runs commands whose children leave the command's
// process group (setsid, a double fork, a new session with a child of its
// own) or ignore hangups (nohup), and checks that none of them outlives
// the job, whether it completes or is canceled: each is gone within 2 s of
// the job being reported finished.
func TestJobLeavesNoProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("needs /proc to find processes")
	}
	p := start(t, "chaptask", childEnv(t.TempDir()))
	c := newClient(p.base)
	dir := t.TempDir()
	const bound = 2 * time.Second

	waitStatus := func(jobID, status string) {
		t.Helper()
		var j job
		testclient.Eventually(t, 2*time.Minute, 20*time.Millisecond, func() bool {
			c.must(t, http.StatusOK, "GET", "/api/v1/jobs/"+jobID, nil, &j)
			return j.Status == status
		}, func() string { return fmt.Sprintf("job %s is %s, want %s", jobID, j.Status, status) })
	}
	gone := func(what string, pids map[string]int) time.Duration {
		t.Helper()
		since := time.Now()
		testclient.Eventually(t, bound, 10*time.Millisecond, func() bool { return len(alive(pids)) == 0 },
			func() string { return fmt.Sprintf("after %s: still running: %v", what, alive(pids)) })
		return time.Since(since)
	}

	t.Run("completion", func(t *testing.T) {
		task := c.createTask(t, map[string]any{"command": escapees(dir)})
		jobID := c.execute(t, task)
		waitStatus(jobID, "completed")
		waited := gone("completion", escapeePIDs(t, dir, jobID))
		t.Logf("FIGURE: orphans/completion: setsid, double-fork, nohup and new-session children gone %s after the job completed", waited.Round(time.Millisecond))
	})
	t.Run("cancel", func(t *testing.T) {
		task := c.createTask(t, map[string]any{"command": escapees(dir) + "\nsleep 300"})
		jobID := c.execute(t, task)
		testclient.Eventually(t, 2*time.Minute, 20*time.Millisecond, func() bool {
			_, err := os.Stat(filepath.Join(dir, jobID+".deep"))
			return err == nil
		}, func() string { return "the job's children were not started" })
		pids := escapeePIDs(t, dir, jobID)
		// A pid is written when its process is forked, before it has
		// become sleep: on a busy machine the exec may still be under way.
		testclient.Eventually(t, 30*time.Second, 10*time.Millisecond, func() bool { return len(alive(pids)) == len(escapeeKinds) },
			func() string { return fmt.Sprintf("before the cancel only %v run", alive(pids)) })
		c.must(t, http.StatusNoContent, "DELETE", "/api/v1/jobs/"+jobID, nil, nil)
		waitStatus(jobID, "canceled")
		waited := gone("cancel", pids)
		t.Logf("FIGURE: orphans/cancel: setsid, double-fork, nohup and new-session children gone %s after the job was canceled", waited.Round(time.Millisecond))
	})
}
