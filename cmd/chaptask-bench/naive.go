package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/chaptask/chaptask/activities"
	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/embedded"
	"github.com/chaptask/chaptask/registry"
	"github.com/chaptask/chaptask/workflows"
)

// Names of the naive reference on its own server.
const (
	naiveWorkflow  = "bench.NaiveExecuteTask"
	naiveTaskQueue = "bench-naive"
)

const (
	// naiveActivityTimeout is the ordinary start-to-close timeout of each
	// step of the naive workflow.
	naiveActivityTimeout = time.Minute
	// stallAfter is how long the bench waits on a job's result before it
	// counts a stall: with the default config, a history long poll that
	// misses its wake-up returns only after 20 s.
	stallAfter = 5 * time.Second
	// describeEvery is how often a stalled job is described.
	describeEvery = 10 * time.Millisecond
)

// naiveExecuteTask is the job as a first design would write it: the same
// three steps as chaptask's workflow, each a regular activity with ordinary
// options (the default retry policy, no heartbeats, no local activities).
func naiveExecuteTask(ctx workflow.Context, in workflows.ExecuteInput) (workflows.ExecuteResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: naiveActivityTimeout})
	var task workflows.TaskSnapshot
	if err := workflow.ExecuteActivity(ctx, workflows.SnapshotTaskActivity, workflows.SnapshotInput{TaskID: in.TaskID}).Get(ctx, &task); err != nil {
		return workflows.ExecuteResult{}, err
	}
	jobID := workflow.GetInfo(ctx).WorkflowExecution.ID
	var out workflows.RunOutput
	if err := workflow.ExecuteActivity(ctx, workflows.RunTaskActivity, workflows.RunInput{JobID: jobID, Task: task}).Get(ctx, &out); err != nil {
		return workflows.ExecuteResult{}, err
	}
	var saved workflows.PersistOutput
	persist := workflows.PersistInput{JobID: jobID, TaskID: task.ID, Output: out}
	if err := workflow.ExecuteActivity(ctx, workflows.PersistArtifactActivity, persist).Get(ctx, &saved); err != nil {
		return workflows.ExecuteResult{}, err
	}
	return workflows.ExecuteResult{ArtifactID: saved.ArtifactID, StartedAt: out.StartedAt, FinishedAt: out.FinishedAt}, nil
}

// naive is reference A running in this process: an untuned embedded
// server, a worker and a client.
type naive struct {
	server *embedded.Server
	client client.Client
	worker worker.Worker
	db     *bun.DB
	taskID string
	// stalls counts jobs that had closed, but whose result had not
	// arrived through the SDK, stallAfter after they started.
	stalls atomic.Int64
	// slow counts jobs still running stallAfter after they started.
	slow atomic.Int64
}

// startNaive starts reference A with its data in dir.
func startNaive(ctx context.Context, dir, databaseURL string, maxConcurrency int, shellEnv []string, logger *slog.Logger) (n *naive, err error) {
	n = &naive{}
	defer func() {
		if err != nil {
			n.stop()
		}
	}()
	if n.db, n.taskID, err = openReferenceDB(ctx, databaseURL, dir); err != nil {
		return n, err
	}
	n.server, err = embedded.Start(ctx, embedded.Config{
		DataDir:      filepath.Join(dir, "temporal"),
		FrontendAddr: "127.0.0.1:0",
		Logger:       logger,
		Untuned:      true,
	})
	if err != nil {
		return n, fmt.Errorf("start naive Temporal server: %w", err)
	}
	n.client, err = client.DialContext(ctx, client.Options{
		HostPort: n.server.FrontendAddr(),
		Logger:   sdklog.NewStructuredLogger(logger),
	})
	if err != nil {
		return n, fmt.Errorf("connect to naive Temporal server: %w", err)
	}
	// The same limit on running steps as chaptask's workers; everything
	// else is the SDK's default.
	n.worker = worker.New(n.client, naiveTaskQueue, worker.Options{MaxConcurrentActivityExecutionSize: maxConcurrency})
	n.worker.RegisterWorkflowWithOptions(naiveExecuteTask, workflow.RegisterOptions{Name: naiveWorkflow})
	acts := &activities.Activities{DB: n.db, Registry: registry.New(), Logger: logger, ShellEnv: shellEnv}
	acts.Register(n.worker)
	if err := n.worker.Start(); err != nil {
		return n, fmt.Errorf("start naive worker: %w", err)
	}
	return n, nil
}

// job starts a workflow (no eager start) and waits for its result with the
// SDK. Should the result not have arrived after stallAfter, the job is read
// with DescribeWorkflowExecution from then on; if it had closed already, the
// SDK's history long poll missed its wake-up and a stall is counted.
func (n *naive) job(ctx context.Context) (string, error) {
	opts := client.StartWorkflowOptions{ID: db.NewID(), TaskQueue: naiveTaskQueue}
	run, err := n.client.ExecuteWorkflow(ctx, opts, naiveWorkflow, workflows.ExecuteInput{TaskID: n.taskID})
	if err != nil {
		return "", fmt.Errorf("start naive job: %w", err)
	}
	getCtx, cancel := context.WithTimeout(ctx, stallAfter)
	var res workflows.ExecuteResult
	err = run.Get(getCtx, &res)
	cancel()
	var wfErr *temporal.WorkflowExecutionError
	switch {
	case err == nil:
		return "completed", nil
	case errors.As(err, &wfErr):
		return "failed", nil
	case getCtx.Err() != nil && ctx.Err() == nil:
		return n.describeUntilClosed(ctx, opts.ID)
	}
	return "", fmt.Errorf("await naive job %s: %w", opts.ID, err)
}

// describeUntilClosed polls the workflow until it has closed and returns
// its status as a job status. A workflow closed at the first poll counts as
// a stall, one still running as slow.
func (n *naive) describeUntilClosed(ctx context.Context, id string) (string, error) {
	const running = enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	status, err := n.describe(ctx, id)
	if err != nil {
		return "", err
	}
	if status == running {
		n.slow.Add(1)
	} else {
		n.stalls.Add(1)
	}
	for status == running {
		if err := sleepCtx(ctx, describeEvery); err != nil {
			return "", err
		}
		if status, err = n.describe(ctx, id); err != nil {
			return "", err
		}
	}
	switch status {
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return "completed", nil
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "canceled", nil
	}
	return "failed", nil
}

func (n *naive) describe(ctx context.Context, id string) (enumspb.WorkflowExecutionStatus, error) {
	desc, err := n.client.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return 0, fmt.Errorf("describe naive job %s: %w", id, err)
	}
	return desc.GetWorkflowExecutionInfo().GetStatus(), nil
}

// stop releases everything startNaive started.
func (n *naive) stop() error {
	var errs []error
	if n.worker != nil {
		n.worker.Stop()
	}
	if n.client != nil {
		n.client.Close()
	}
	if n.server != nil {
		if err := n.server.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop naive Temporal server: %w", err))
		}
	}
	if n.db != nil {
		errs = append(errs, n.db.Close())
	}
	return errors.Join(errs...)
}
