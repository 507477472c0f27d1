package reliability

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/embedded"
	"github.com/chaptask/chaptask/internal/testclient"
	"github.com/chaptask/chaptask/jobs"
)

// crashJobs is how many jobs each crash test submits.
const crashJobs = 200

// crashWorkload is the mix of tasks a crash test runs: quick and slow shell
// commands (which log each run to a file, so re-executions can be counted)
// and quick and slow functions.
type crashWorkload struct {
	runsFile string
	tasks    []string          // task ids, executed round-robin
	kind     map[string]string // task id → "echo", "sleep", "sum", "slow"
}

func newCrashWorkload(t *testing.T, c *client) *crashWorkload {
	t.Helper()
	w := &crashWorkload{runsFile: filepath.Join(t.TempDir(), "runs"), kind: map[string]string{}}
	add := func(kind string, body map[string]any) {
		id := c.createTask(t, body)
		w.tasks = append(w.tasks, id)
		w.kind[id] = kind
	}
	log := "echo $CHAPTASK_JOB_ID >> " + w.runsFile
	add("echo", map[string]any{"command": log + "; echo fast"})
	add("sleep", map[string]any{"command": log + "; sleep 2; echo x"})
	add("sum", map[string]any{"command": "calculate_sum", "task_type": "python", "parameters": map[string]any{"a": 20, "b": 22}})
	add("slow", map[string]any{"command": "slow_computation", "task_type": "go", "parameters": map[string]any{"seconds": 1}})
	return w
}

// submit executes jobs from..to-1 of the workload, a few at a time, and
// records each job's task in jobTask.
func (w *crashWorkload) submit(t *testing.T, c *client, from, to int, jobTask map[string]string) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := from; i < to; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			taskID := w.tasks[i%len(w.tasks)]
			r, err := c.try("POST", "/api/v1/tasks/"+taskID+"/$execute", nil)
			if err != nil || r.status != 202 {
				t.Errorf("execute %s: %v %v", taskID, r, err)
				return
			}
			var out struct {
				JobID string `json:"job_id"`
			}
			if err := decodeJSON(r.body, &out); err != nil {
				t.Errorf("execute %s: %v", taskID, err)
				return
			}
			mu.Lock()
			jobTask[out.JobID] = taskID
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// check is what the artifact of each kind of task must hold.
func (w *crashWorkload) check(taskID string, data map[string]any) error {
	task, _ := data["task"].(map[string]any)
	if task["id"] != taskID {
		return fmt.Errorf("snapshot of task %v, want %s", task["id"], taskID)
	}
	want := map[string]string{"echo": "fast\n", "sleep": "x\n"}
	switch kind := w.kind[taskID]; kind {
	case "echo", "sleep":
		if data["stdout"] != want[kind] || data["exit_code"] != 0.0 {
			return fmt.Errorf("stdout %q exit %v, want %q exit 0", data["stdout"], data["exit_code"], want[kind])
		}
	case "sum":
		if res, _ := data["result"].(map[string]any); res["result"] != 42.0 || data["error"] != nil {
			return fmt.Errorf("result %v error %v, want 42", data["result"], data["error"])
		}
	case "slow":
		if res, _ := data["result"].(map[string]any); res["completed"] != true || data["error"] != nil {
			return fmt.Errorf("result %v error %v, want completed", data["result"], data["error"])
		}
	}
	return nil
}

// waitMidway polls until some jobs have completed and some are running, the
// moment to pull the plug. It fails the test if every job finished first.
func waitMidway(t *testing.T, c *client, total int) (completed, running int) {
	t.Helper()
	testclient.Eventually(t, 3*time.Minute, 50*time.Millisecond, func() bool {
		completed, running = c.countJobs(t, "completed"), c.countJobs(t, "running")
		if completed >= total {
			t.Fatalf("all %d jobs completed before the crash; the test proves nothing", total)
		}
		return completed >= total/5 && running > 0
	}, func() string { return fmt.Sprintf("%d completed, %d running", completed, running) })
	return completed, running
}

// finishTimeout covers the retries after a crash: run steps wait for their
// 10 s heartbeat timeout, then back off.
const finishTimeout = 5 * time.Minute

// TestCrashPostgres runs the API and a worker as separate processes on
// PostgreSQL against a Temporal server, kills the worker with SIGKILL while
// jobs run, submits more while no worker is up, starts a worker again and
// checks that every job completed with exactly one artifact.
func TestCrashPostgres(t *testing.T) {
	began := time.Now()
	dbURL := dbtest.PostgresURL(t)
	ctx := context.Background()
	srv, err := embedded.Start(ctx, embedded.Config{FrontendAddr: "127.0.0.1:0", SearchAttributes: jobs.SearchAttributes})
	if err != nil {
		t.Fatalf("start Temporal server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop Temporal server: %v", err)
		}
	})

	env := func(role string) map[string]string {
		e := childEnv(t.TempDir())
		e["CHAPTASK_ROLE"] = role
		e["DATABASE_URL"] = dbURL
		e["TEMPORAL_ADDRESS"] = srv.FrontendAddr()
		e["CHAPTASK_MAX_CONCURRENCY"] = "16"
		return e
	}
	apiProc := start(t, "api", env("api"))
	worker := start(t, "worker", env("worker"))
	c := newClient(apiProc.base)
	w := newCrashWorkload(t, c)

	jobTask := map[string]string{}
	w.submit(t, c, 0, crashJobs/2, jobTask)
	completed, running := waitMidway(t, c, crashJobs/2)
	worker.kill()
	// With no worker alive, the API still takes jobs; they wait as pending.
	w.submit(t, c, crashJobs/2, crashJobs, jobTask)
	start(t, "worker-restarted", env("worker"))

	c.waitFinished(t, crashJobs, finishTimeout)
	lost, dup := c.checkOneArtifactEach(t, jobTask, w.check)
	runs, distinct := countLines(t, w.runsFile)
	t.Logf("FIGURE: crash/postgres: %d jobs, worker SIGKILLed with %d completed and %d running; %d lost, %d duplicated; "+
		"%d shell runs for %d shell jobs (%d re-executed after the crash); wall %s",
		len(jobTask), completed, running, lost, dup, runs, distinct, runs-distinct, time.Since(began).Round(time.Second))
}

// TestCrashEmbedded kills the single embedded binary (API, worker, Temporal
// server and SQLite in one process) with SIGKILL while jobs run, starts it
// again on the same data directory and checks that every job completed with
// exactly one artifact.
func TestCrashEmbedded(t *testing.T) {
	began := time.Now()
	env := childEnv(t.TempDir())
	env["CHAPTASK_MAX_CONCURRENCY"] = "16"
	p := start(t, "chaptask", env)
	c := newClient(p.base)
	w := newCrashWorkload(t, c)

	jobTask := map[string]string{}
	w.submit(t, c, 0, crashJobs, jobTask)
	completed, running := waitMidway(t, c, crashJobs)
	p.kill()
	p = start(t, "chaptask-restarted", env)
	c = newClient(p.base)

	c.waitFinished(t, crashJobs, finishTimeout)
	lost, dup := c.checkOneArtifactEach(t, jobTask, w.check)
	runs, distinct := countLines(t, w.runsFile)
	t.Logf("FIGURE: crash/embedded: %d jobs, process SIGKILLed with %d completed and %d running; %d lost, %d duplicated; "+
		"%d shell runs for %d shell jobs (%d re-executed after the crash); wall %s",
		len(jobTask), completed, running, lost, dup, runs, distinct, runs-distinct, time.Since(began).Round(time.Second))
}
