package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/activities"
	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/embedded"
	"github.com/chaptask/chaptask/internal/testclient"
	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/workflows"
)

const namespace = "jobs-test"

// server is the package's one embedded Temporal server, started by the
// first test that needs it (the unit tests of the package do not) and
// stopped by TestMain.
var server struct {
	once sync.Once
	srv  *embedded.Server
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if server.srv != nil {
		if err := server.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop embedded Temporal server:", err)
		}
	}
	os.Exit(code)
}

// testEnv is a jobs.Service on the shared server with its own database
// and task queue, and a worker serving that queue.
type testEnv struct {
	jobs   *jobs.Service
	db     bun.IDB
	client client.Client
	queue  string
}

func logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// newEnv returns a service whose jobs run on a worker of their own, on a
// fresh SQLite database. With worker false nothing serves its queue, so
// its jobs stay pending.
func newEnv(t *testing.T, withWorker bool) *testEnv {
	t.Helper()
	server.once.Do(func() {
		server.srv, server.err = embedded.Start(context.Background(), embedded.Config{
			FrontendAddr:     "127.0.0.1:0",
			Namespace:        namespace,
			SearchAttributes: jobs.SearchAttributes,
			Logger:           logger(),
		})
	})
	if server.err != nil {
		t.Fatalf("start embedded Temporal server: %v", server.err)
	}
	c, err := client.Dial(server.srv.ClientOptions(client.Options{HostPort: server.srv.FrontendAddr(), Namespace: namespace, Logger: sdklog.NewStructuredLogger(logger())}))
	if err != nil {
		t.Fatalf("dial Temporal: %v", err)
	}
	t.Cleanup(c.Close)
	bdb := dbtest.Open(t, "sqlite")
	queue := "jobs-test-" + db.NewID()
	if withWorker {
		w := worker.New(c, queue, worker.Options{})
		w.RegisterWorkflowWithOptions(workflows.ExecuteTask, workflow.RegisterOptions{Name: workflows.ExecuteTaskWorkflow})
		(&activities.Activities{DB: bdb, Logger: logger()}).Register(w)
		if err := w.Start(); err != nil {
			t.Fatalf("start worker: %v", err)
		}
		t.Cleanup(w.Stop)
	}
	return &testEnv{jobs: jobs.New(c, bdb, namespace, queue, logger()), db: bdb, client: c, queue: queue}
}

// task stores an enabled shell task running command.
func (e *testEnv) task(t *testing.T, command string) *db.Task {
	t.Helper()
	now := db.Now()
	task := &db.Task{ID: db.NewID(), Command: command, TaskType: domain.TaskTypeShell, Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateTask(t.Context(), e.db, task); err != nil {
		t.Fatalf("create task: %v", err)
	}
	return task
}

// submit starts a job of task; it is terminated, if still live, when the
// test ends.
func (e *testEnv) submit(t *testing.T, task *db.Task) string {
	t.Helper()
	id, err := e.jobs.Submit(t.Context(), task, nil)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	t.Cleanup(func() {
		_ = e.client.TerminateWorkflow(context.Background(), id, "", "test over")
	})
	return id
}

// waitStatus reads the job until its status is want.
func (e *testEnv) waitStatus(t *testing.T, id, want string) *jobs.Job {
	t.Helper()
	var job *jobs.Job
	var err error
	testclient.Eventually(t, 60*time.Second, 20*time.Millisecond, func() bool {
		job, err = e.jobs.Get(t.Context(), id)
		return err == nil && job.Status == want
	}, func() string { return fmt.Sprintf("job %s: %+v (error %v), want %s", id, job, err, want) })
	return job
}

// listed returns the ids List answers for f.
func (e *testEnv) listed(t *testing.T, f jobs.Filter) []string {
	t.Helper()
	list, _, err := e.jobs.List(t.Context(), f)
	if err != nil {
		t.Fatalf("list %+v: %v", f, err)
	}
	ids := make([]string, len(list))
	for i, j := range list {
		ids[i] = j.ID
	}
	return ids
}

func TestSubmitAndGet(t *testing.T) {
	e := newEnv(t, true)
	task := e.task(t, "echo hello")
	id := e.submit(t, task)
	job := e.waitStatus(t, id, jobs.StatusCompleted)
	if job.TaskID != task.ID || job.ArtifactID == nil || job.StartedAt == nil || job.FinishedAt == nil || job.Error != nil {
		t.Errorf("completed job = %+v, want its task, artifact, start and finish and no error", job)
	}
	if _, err := e.jobs.Get(t.Context(), db.NewID()); domain.CodeOf(err) != domain.NotFound {
		t.Errorf("Get(unknown id) error = %v, want a domain.NotFound error", err)
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t, true)
	id := e.submit(t, e.task(t, "sleep 60"))
	e.waitStatus(t, id, jobs.StatusRunning)
	if err := e.jobs.Delete(t.Context(), id); err != nil {
		t.Fatalf("delete (cancel) a running job: %v", err)
	}
	e.waitStatus(t, id, jobs.StatusCanceled)
}

func TestRerun(t *testing.T) {
	e := newEnv(t, true)
	task := e.task(t, "echo again")
	first := e.submit(t, task)
	e.waitStatus(t, first, jobs.StatusCompleted)
	snap, err := e.jobs.Snapshot(t.Context(), first)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	second, err := e.jobs.Rerun(t.Context(), first, snap)
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	job := e.waitStatus(t, second, jobs.StatusCompleted)
	if job.RerunOf == nil || *job.RerunOf != first || job.TaskID != task.ID {
		t.Errorf("rerun job = %+v, want rerun_of %s and task %s", job, first, task.ID)
	}
}

// TestStatusFilterRoundTrip makes a real job of every status and checks
// that the status filter of List selects it, and no other status filter
// does: statusOf and visibilityFilter (jobs/status.go) agree.
func TestStatusFilterRoundTrip(t *testing.T) {
	e := newEnv(t, true)
	idle := newEnv(t, false) // nothing runs its jobs: they stay pending
	made := map[string]struct {
		env    *testEnv
		jobID  string
		taskID string
	}{}
	start := func(status string, env *testEnv, task *db.Task) {
		made[status] = struct {
			env    *testEnv
			jobID  string
			taskID string
		}{env, env.submit(t, task), task.ID}
	}
	start(domain.StatusCompleted, e, e.task(t, "true"))
	start(domain.StatusFailed, e, e.task(t, "sleep 60"))
	start(domain.StatusRunning, e, e.task(t, "sleep 60"))
	start(domain.StatusCanceled, e, e.task(t, "sleep 60"))
	start(domain.StatusPending, idle, idle.task(t, "true"))

	e.waitStatus(t, made[domain.StatusCanceled].jobID, jobs.StatusRunning)
	if err := e.jobs.Cancel(t.Context(), made[domain.StatusCanceled].jobID); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	// A job terminated from outside (tctl, the Web UI) failed.
	if err := e.client.TerminateWorkflow(t.Context(), made[domain.StatusFailed].jobID, "", "round trip"); err != nil {
		t.Fatalf("terminate: %v", err)
	}
	for _, status := range domain.Statuses {
		m, ok := made[status]
		if !ok {
			t.Fatalf("no job made for status %s", status)
		}
		m.env.waitStatus(t, m.jobID, status)
	}
	for _, status := range domain.Statuses {
		m := made[status]
		t.Run(status, func(t *testing.T) {
			// Visibility is updated after the execution closes.
			var ids []string
			testclient.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool {
				ids = m.env.listed(t, jobs.Filter{Status: status, TaskID: m.taskID})
				return slices.Equal(ids, []string{m.jobID})
			}, func() string { return fmt.Sprintf("status_filter=%s lists %v, want [%s]", status, ids, m.jobID) })
			for _, other := range domain.Statuses {
				if other == status {
					continue
				}
				if ids := m.env.listed(t, jobs.Filter{Status: other, TaskID: m.taskID}); len(ids) != 0 {
					t.Errorf("status_filter=%s lists %v, the %s job of task %s", other, ids, status, m.taskID)
				}
			}
		})
	}
}

// A function cannot start, as a child job, what the deployment refuses to
// run: with shell tasks disabled a shell child is refused at submit and no
// job starts; the same submit under the zero policy starts one.
func TestChildSubmitFollowsShellRule(t *testing.T) {
	e := newEnv(t, false)
	task := e.task(t, "echo child")
	scope := activities.JobScope{JobID: db.NewID(), RunID: "run-1", Artifact: workflows.ArtifactPlace{ArtifactID: db.NewID()}}

	refused := e.jobs.ChildrenOf(scope, domain.Policy{ShellDisabled: true})
	if _, err := refused.Submit(t.Context(), "shell", task.ID, nil); !errors.Is(err, jobs.ErrTaskNotRunnable) {
		t.Fatalf("shell child with shell disabled: %v, want ErrTaskNotRunnable", err)
	}
	if ids := e.listed(t, jobs.Filter{ParentJobID: scope.JobID}); len(ids) != 0 {
		t.Fatalf("refused submit started %v", ids)
	}

	id, err := e.jobs.ChildrenOf(scope, domain.Policy{}).Submit(t.Context(), "shell", task.ID, nil)
	if err != nil {
		t.Fatalf("shell child with shell allowed: %v", err)
	}
	t.Cleanup(func() { _ = e.client.TerminateWorkflow(context.Background(), id, "", "test over") })
	if _, err := e.jobs.Get(t.Context(), id); err != nil {
		t.Fatalf("the allowed child was not started: %v", err)
	}
}

// A page's total comes from a shared count that may lag: it catches up
// with submits and deletes, and is never below what the page shows.
func TestListTotalConverges(t *testing.T) {
	e := newEnv(t, true)
	task := e.task(t, "echo total")
	var ids []string
	submitDone := func(n int) {
		for range n {
			id := e.submit(t, task)
			e.waitStatus(t, id, jobs.StatusCompleted)
			ids = append(ids, id)
		}
	}
	// waitTotal reads page of size 2 until its total is want, checking
	// every answer against what the listing proves.
	waitTotal := func(page, want int, status string) {
		t.Helper()
		var items []jobs.Job
		var total int
		var err error
		testclient.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
			items, total, err = e.jobs.List(t.Context(), jobs.Filter{TaskID: task.ID, Status: status, Page: page, Size: 2})
			if err != nil {
				return false
			}
			if proven := (page-1)*2 + len(items); len(items) > 0 && total < proven {
				t.Fatalf("page %d: total %d below the %d jobs the page proves", page, total, proven)
			}
			return total == want
		}, func() string {
			return fmt.Sprintf("page %d of %q: total %d (%d items, error %v), want %d", page, status, total, len(items), err, want)
		})
	}

	submitDone(3)
	waitTotal(1, 3, "")
	waitTotal(2, 3, "")
	waitTotal(1, 3, jobs.StatusCompleted)

	submitDone(2)
	waitTotal(1, 5, "")
	waitTotal(2, 5, "")
	waitTotal(1, 5, jobs.StatusCompleted)

	if err := e.jobs.Delete(t.Context(), ids[0]); err != nil {
		t.Fatalf("delete: %v", err)
	}
	waitTotal(1, 4, "")
	waitTotal(1, 4, jobs.StatusCompleted)
	waitTotal(1, 0, jobs.StatusFailed)

	// A count that lags behind the listing gives way to what it proves.
	jobs.CountsSay(e.jobs, 1)
	for _, c := range []struct{ page, items, total int }{{1, 2, 2}, {2, 2, 4}, {3, 0, 4}} {
		items, total, err := e.jobs.List(t.Context(), jobs.Filter{TaskID: task.ID, Page: c.page, Size: 2})
		if err != nil || len(items) != c.items || total != c.total {
			t.Errorf("page %d of 2 with a count of 1: %d items, total %d (error %v), want %d, %d", c.page, len(items), total, err, c.items, c.total)
		}
	}
}
