package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Step policies. The run step heartbeats; a worker that dies mid-run is
// noticed after runHeartbeatTimeout and the step is retried elsewhere.
const (
	runHeartbeatTimeout = 10 * time.Second
	runStartToClose     = 24 * time.Hour
	runMaxAttempts      = 5
	localStepTimeout    = 30 * time.Second
)

// ExecuteTask is the job workflow: snapshot the task, run it, persist the
// artifact. A command's own failure is an ordinary result recorded in the
// artifact; the workflow fails only when the job could not be carried out.
func ExecuteTask(ctx workflow.Context, in ExecuteInput) (ExecuteResult, error) {
	// Database steps retry until the database is back; only a task that no
	// longer exists is final.
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: localStepTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        200 * time.Millisecond,
			BackoffCoefficient:     2,
			MaximumInterval:        10 * time.Second,
			NonRetryableErrorTypes: []string{ErrTypeTaskNotFound, ErrTypeOutputNotFound},
		},
	})
	// A rerun brings the snapshot of the job it repeats. Only new inputs
	// carry one, so recorded histories replay the snapshot step unchanged.
	var task TaskSnapshot
	if in.Snapshot != nil {
		task = *in.Snapshot
	} else if err := workflow.ExecuteLocalActivity(lctx, SnapshotTaskActivity, SnapshotInput{TaskID: in.TaskID}).Get(lctx, &task); err != nil {
		return fail(err, "snapshot task %s", in.TaskID)
	}

	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: runStartToClose,
		HeartbeatTimeout:    runHeartbeatTimeout,
		// The job is reported canceled only once the command is dead.
		WaitForCancellation: true,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			MaximumAttempts:        runMaxAttempts,
			NonRetryableErrorTypes: []string{ErrTypeBadTask},
		},
	})
	jobID := workflow.GetInfo(ctx).WorkflowExecution.ID
	var out RunOutput
	err := workflow.ExecuteActivity(actx, RunTaskActivity, RunInput{JobID: jobID, Task: task}).Get(actx, &out)
	if err != nil {
		return fail(err, "run task %s", task.ID)
	}

	// A cancel that arrives now is too late to stop anything: keep the work.
	pctx, _ := workflow.NewDisconnectedContext(lctx)
	var saved PersistOutput
	err = workflow.ExecuteLocalActivity(pctx, PersistArtifactActivity, PersistInput{JobID: jobID, TaskID: task.ID, Output: out}).Get(pctx, &saved)
	if err != nil {
		return fail(err, "persist artifact")
	}

	return ExecuteResult{ArtifactID: saved.ArtifactID, StartedAt: out.StartedAt, FinishedAt: out.FinishedAt}, nil
}

// fail ends the job. Cancellation passes through untouched so the execution
// closes as canceled; anything else fails the workflow with a message that
// says which step failed and why.
//
// The workflow records nothing else (no memo or search attribute updates):
// every such update is one more visibility write, the most expensive thing
// an embedded server does per job.
func fail(err error, format string, args ...any) (ExecuteResult, error) {
	if temporal.IsCanceledError(err) {
		return ExecuteResult{}, err
	}
	msg := fmt.Sprintf(format, args...) + ": " + failureMessage(err)
	return ExecuteResult{}, temporal.NewNonRetryableApplicationError(msg, jobFailedType, err)
}

// jobFailedType is the application error type of a failed job.
const jobFailedType = "JobFailed"

// failureMessage unwraps Temporal's activity error envelope to the cause a
// user can act on.
func failureMessage(err error) string {
	var appErr *temporal.ApplicationError
	var timeoutErr *temporal.TimeoutError
	switch {
	case errors.As(err, &appErr):
		return appErr.Message()
	case errors.As(err, &timeoutErr):
		return "timed out (" + timeoutErr.TimeoutType().String() + ")"
	}
	return err.Error()
}
