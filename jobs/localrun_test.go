package jobs_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/activities"
	"github.com/chaptask/chaptask/internal/testclient"
	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/workflows"
)

// oneRunGate admits one run step at a time.
type oneRunGate chan struct{}

func (g oneRunGate) AcquireRun(ctx context.Context) error {
	select {
	case g <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g oneRunGate) ReleaseRun() { <-g }

// TestShortTaskRunsLocally runs one task three times. Its first job takes
// the regular run step; once a run was seen to be short, the next job's
// step is a local activity (no activity in the history) that still stores
// its artifact. A local step that runs long shows running, with its start,
// in a process without the worker too, and a cancel through the worker's
// process stops it at once (the step ends CanceledHere, not at the
// workflow task's next heartbeat) and the job closes canceled. A
// terminated one keeps its start.
func TestShortTaskRunsLocally(t *testing.T) {
	e := newEnv(t, false)
	runs := jobs.NewLocalRuns()
	runs.SetRunGate(make(oneRunGate, 1))
	w := worker.New(e.client, e.queue, worker.Options{
		Identity:     runs.Identity(),
		Interceptors: []interceptor.WorkerInterceptor{runs.WorkerInterceptor()},
	})
	w.RegisterWorkflowWithOptions(workflows.ExecuteTask, workflow.RegisterOptions{Name: workflows.ExecuteTaskWorkflow})
	(&activities.Activities{DB: e.db.(*bun.DB), Logger: logger()}).Register(w)
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(w.Stop)
	svc := jobs.New(e.client, e.db, namespace, e.queue, logger())
	svc.FollowLocalRuns(runs)
	elsewhere := jobs.New(e.client, e.db, namespace, e.queue, logger()) // an API process without a worker

	dir := t.TempDir()
	flag, pids := filepath.Join(dir, "long"), filepath.Join(dir, "pids")
	task := e.task(t, "if test -e "+flag+"; then echo $$ >> "+pids+"; sleep 60; fi; echo done")
	// gone waits until the shell of the latest long job has exited.
	gone := func(what string) {
		t.Helper()
		raw, err := os.ReadFile(pids)
		lines := strings.Fields(string(raw))
		if err != nil || len(lines) == 0 {
			t.Fatalf("no pid of the long job: %v", err)
		}
		pid := lines[len(lines)-1]
		testclient.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
			_, err := os.Stat("/proc/" + pid)
			return os.IsNotExist(err)
		}, func() string { return "the command of a job " + what + " still runs (pid " + pid + ")" })
	}
	submit := func() string {
		t.Helper()
		id, err := svc.Submit(t.Context(), task, nil)
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		t.Cleanup(func() { _ = e.client.TerminateWorkflow(context.Background(), id, "", "test over") })
		return id
	}
	history := func(id string) []*historypb.HistoryEvent {
		t.Helper()
		var events []*historypb.HistoryEvent
		iter := e.client.GetWorkflowHistory(t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				t.Fatalf("history of %s: %v", id, err)
			}
			events = append(events, ev)
		}
		return events
	}
	activitiesIn := func(id string) (n int) {
		for _, ev := range history(id) {
			if ev.GetActivityTaskScheduledEventAttributes() != nil {
				n++
			}
		}
		return n
	}
	svcEnv := &testEnv{jobs: svc, db: e.db, client: e.client, queue: e.queue}

	first := submit()
	if job := svcEnv.waitStatus(t, first, jobs.StatusCompleted); job.ArtifactID == nil {
		t.Fatalf("first job %+v has no artifact", job)
	}
	if n := activitiesIn(first); n != 1 {
		t.Errorf("first job scheduled %d activities, want the regular run step", n)
	}

	second := submit()
	job := svcEnv.waitStatus(t, second, jobs.StatusCompleted)
	if job.ArtifactID == nil || job.StartedAt == nil || job.FinishedAt == nil {
		t.Errorf("local job %+v lacks its artifact, start or finish", job)
	}
	if n := activitiesIn(second); n != 0 {
		t.Errorf("second job scheduled %d activities, want its run step local", n)
	}

	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	long := submit()
	svcEnv.waitStatus(t, long, jobs.StatusRunning)
	seen := (&testEnv{jobs: elsewhere}).waitStatus(t, long, jobs.StatusRunning)
	if seen.StartedAt == nil {
		t.Errorf("a process without the worker reads the running local job without its start: %+v", seen)
	}
	stoppedHere := func(id string) bool {
		for _, ev := range history(id) {
			if f := ev.GetMarkerRecordedEventAttributes().GetFailure(); f != nil && f.GetApplicationFailureInfo().GetType() == workflows.ErrTypeCanceledHere {
				return true
			}
		}
		return false
	}
	// A second job waits in the worker for the one run slot; a cancel
	// ends its wait at once.
	waiting := submit()
	svcEnv.waitStatus(t, waiting, jobs.StatusRunning)
	if err := svc.Cancel(t.Context(), waiting); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	svcEnv.waitStatus(t, waiting, jobs.StatusCanceled)
	if !stoppedHere(waiting) {
		t.Error("the local step canceled while it waited for a slot did not end CanceledHere")
	}
	if err := svc.Cancel(t.Context(), long); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	svcEnv.waitStatus(t, long, jobs.StatusCanceled)
	if !stoppedHere(long) {
		t.Error("the canceled local step did not end CanceledHere: the cancel waited for Temporal to deliver it")
	}

	gone("canceled through the API")

	// Temporal's tools reach a local step at its workflow task's next
	// heartbeat (80 % of the task's 10 s timeout).
	canceled := submit()
	svcEnv.waitStatus(t, canceled, jobs.StatusRunning)
	if err := e.client.CancelWorkflow(t.Context(), canceled, ""); err != nil {
		t.Fatal(err)
	}
	(&testEnv{jobs: elsewhere}).waitStatus(t, canceled, jobs.StatusCanceled)
	gone("canceled from Temporal's tools")

	terminated := submit()
	svcEnv.waitStatus(t, terminated, jobs.StatusRunning)
	if err := e.client.TerminateWorkflow(t.Context(), terminated, "", "from Temporal's tools"); err != nil {
		t.Fatal(err)
	}
	if job := (&testEnv{jobs: elsewhere}).waitStatus(t, terminated, jobs.StatusFailed); job.StartedAt == nil {
		t.Errorf("terminated local job %+v lost its start", job)
	}
	gone("terminated from Temporal's tools")
}
