package jobs_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/activities"
	"github.com/chaptask/chaptask/internal/testclient"
	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/workflows"
)

// describeCounter counts the describes a jobs.Service asks of Temporal.
type describeCounter struct {
	client.Client
	describes atomic.Int64
}

func (c *describeCounter) DescribeWorkflowExecution(ctx context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	c.describes.Add(1)
	return c.Client.DescribeWorkflowExecution(ctx, id, runID)
}

// TestQueuedJobReadsWhileTheWorkerIsSole polls a job queued behind another
// on a one-slot worker that runs in the service's process. While that
// worker is the queue's only one, the reads stop asking Temporal, and the
// job still shows running as soon as the worker starts it (the bound for
// what no worker sees is a minute here, so only the worker can have said
// so). Once another worker polls the queue, every read asks again.
func TestQueuedJobReadsWhileTheWorkerIsSole(t *testing.T) {
	e := newEnv(t, false)
	runs := jobs.NewLocalRuns()
	w := worker.New(e.client, e.queue, worker.Options{
		Identity:                           runs.Identity(),
		Interceptors:                       []interceptor.WorkerInterceptor{runs.WorkerInterceptor()},
		MaxConcurrentActivityExecutionSize: 1,
	})
	w.RegisterWorkflowWithOptions(workflows.ExecuteTask, workflow.RegisterOptions{Name: workflows.ExecuteTaskWorkflow})
	(&activities.Activities{DB: e.db.(*bun.DB), Logger: logger()}).Register(w)
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(w.Stop)
	counter := &describeCounter{Client: e.client}
	svc := jobs.New(counter, e.db, namespace, e.queue, logger())
	svc.FollowLocalRuns(runs)
	jobs.SetPendingFresh(svc, time.Minute)

	submit := func(command string) string {
		t.Helper()
		id, err := svc.Submit(t.Context(), e.task(t, command), nil)
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		t.Cleanup(func() { _ = e.client.TerminateWorkflow(context.Background(), id, "", "test over") })
		return id
	}
	status := func(id string) string {
		t.Helper()
		job, err := svc.Get(t.Context(), id)
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		return job.Status
	}
	// describesOver reads the job n times, farther apart than the 20 ms a
	// live record is otherwise kept, and returns how many reads asked
	// Temporal and the last status.
	describesOver := func(id string, n int) (int64, string) {
		before := counter.describes.Load()
		tick := time.NewTicker(30 * time.Millisecond)
		defer tick.Stop()
		var last string
		for range n {
			<-tick.C
			last = status(id)
		}
		return counter.describes.Load() - before, last
	}
	waitFor := func(id, want string) {
		t.Helper()
		testclient.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return status(id) == want },
			func() string { return id + " never " + want })
	}

	blocker := submit("sleep 30")
	waitFor(blocker, jobs.StatusRunning)
	queued := submit("sleep 30")
	waitFor(queued, jobs.StatusPending)

	var describes int64
	var last string
	testclient.Eventually(t, 20*time.Second, time.Millisecond, func() bool {
		describes, last = describesOver(queued, 5)
		return describes == 0 && last == jobs.StatusPending
	}, func() string {
		return "reads of the queued job still asked Temporal while the worker was the only one"
	})

	if err := svc.Cancel(t.Context(), blocker); err != nil {
		t.Fatalf("cancel the blocker: %v", err)
	}
	waitFor(queued, jobs.StatusRunning)

	other := worker.New(e.client, e.queue, worker.Options{LocalActivityWorkerOnly: true})
	other.RegisterWorkflowWithOptions(workflows.ExecuteTask, workflow.RegisterOptions{Name: workflows.ExecuteTaskWorkflow})
	if err := other.Start(); err != nil {
		t.Fatalf("start the other worker: %v", err)
	}
	t.Cleanup(other.Stop)
	second := submit("sleep 30")
	waitFor(second, jobs.StatusPending)
	testclient.Eventually(t, 20*time.Second, time.Millisecond, func() bool {
		describes, last = describesOver(second, 5)
		return describes == 5 && last == jobs.StatusPending
	}, func() string {
		return "with another worker on the queue, reads of a queued job did not each ask Temporal"
	})
}
