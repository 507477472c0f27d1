package workflows

import (
	"errors"
	"fmt"
	"math"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Step policies. The run step heartbeats; a worker that dies mid-run is
// noticed after runHeartbeatTimeout and the step is retried elsewhere, as
// the task's retry policy allows.
const (
	runHeartbeatTimeout = 10 * time.Second
	runStartToClose     = 24 * time.Hour
	// runTimeoutMargin is how long past a task's own timeout Temporal lets
	// a run attempt go on: the activity enforces the timeout itself (so the
	// partial output survives) and needs time to kill the command and
	// report. Temporal's limit only catches a worker that failed to.
	runTimeoutMargin = 10 * time.Minute
	// localStepTimeout bounds one attempt of a database step.
	localStepTimeout = 30 * time.Second
	// snapshotRetryFor is how long a schedule's run keeps trying to read
	// its task through a database outage. The snapshot step is a local
	// activity whose retries keep a workflow task open and add three
	// history events per workflow task timeout; a day of them stays far
	// below Temporal's history limits.
	snapshotRetryFor = 24 * time.Hour
	// persistActivityChange versions the persist step: a regular activity
	// (retried by the server for as long as the job lives, at no history
	// cost per attempt) instead of a local activity whose retries ended
	// after localStepTimeout.
	persistActivityChange = "persist-as-activity"
	// maxRetryInterval bounds retry intervals read from a snapshot, so no
	// stored value can overflow a time.Duration.
	maxRetryInterval = 24 * time.Hour
)

// ExecuteTask is the job workflow: snapshot the task (unless the input
// brings the snapshot), run it and store the artifact (the persist step only
// when the run step could not store it). A command's own failure is an
// ordinary result recorded in the artifact; the workflow fails only when the
// job could not be carried out.
func ExecuteTask(ctx workflow.Context, in ExecuteInput) (ExecuteResult, error) {
	// Database steps retry until the database is back; only a task that no
	// longer exists, or output that is gone, is final. Without an explicit
	// schedule-to-close bound the SDK would stop a local activity's retries
	// after one start-to-close timeout.
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    localStepTimeout,
		ScheduleToCloseTimeout: snapshotRetryFor,
		RetryPolicy:            databaseRetryPolicy(),
	})
	info := workflow.GetInfo(ctx)
	jobID := info.WorkflowExecution.ID
	// The workflow logger is replay-aware: each line is written once.
	logger := log.With(workflow.GetLogger(ctx), "job_id", jobID, "task_id", in.TaskID)

	// Jobs submitted through the API and reruns bring their snapshot. Only
	// inputs written since carry one, so recorded histories replay the
	// snapshot step unchanged.
	var task TaskSnapshot
	if in.Snapshot != nil {
		task = *in.Snapshot
	} else if err := workflow.ExecuteLocalActivity(lctx, SnapshotTaskActivity, SnapshotInput{TaskID: in.TaskID}).Get(lctx, &task); err != nil {
		return fail(logger, err, "snapshot task %s", in.TaskID)
	}
	if in.Overrides != nil {
		task = task.WithOverrides(*in.Overrides)
	}
	// A schedule may fire after its task was disabled (the API pauses the
	// task's schedules, but a schedule created at the same moment, or a
	// task disabled by other means, can slip through). Manual runs never
	// reach here with a disabled task, and recorded histories have no
	// schedule id, so this branch adds no command to replay.
	if in.ScheduleID != "" && !task.Enabled {
		return ExecuteResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("task %s is disabled: schedule %s did not run it", task.ID, in.ScheduleID), ErrTypeTaskDisabled, nil)
	}

	// The options come from the snapshot, a recorded local activity result,
	// so replay sees the same ones. Replay matches only an activity's id and
	// type, so histories recorded with the fixed options still replay.
	opts := runOptions(task)
	actx := workflow.WithActivityOptions(ctx, opts)
	place := artifactPlace(ctx, in, task)
	var out RunOutput
	run := RunInput{JobID: jobID, Task: task, SubmittedAt: info.WorkflowStartTime, Artifact: place}
	var err error
	if in.RunLocally && !task.IsFunction() && opts.StartToCloseTimeout <= runStartToClose {
		err = runLocally(ctx, opts, run, &out)
	} else {
		err = workflow.ExecuteActivity(actx, RunTaskActivity, run).Get(actx, &out)
	}
	if err != nil {
		if place.ArtifactID != "" {
			// Only jobs on the child-jobs path can have children.
			cancelChildren(ctx, logger, jobID)
		}
		return fail(logger, err, "run task %s", task.ID)
	}

	// The run step stores the artifact. When it could not, or was recorded
	// by a version that never did, the persist step stores it, retrying
	// until the database is back. Both branches follow the recorded result,
	// so replay takes the branch the job took.
	saved := PersistOutput{ArtifactID: out.ArtifactID}
	if saved.ArtifactID == "" {
		// A cancel that arrives now is too late to stop anything: keep the work.
		persist := PersistInput{JobID: jobID, TaskID: task.ID, TaskType: task.TaskType, Output: out, Artifact: place}
		// Histories recorded before the change replay the local activity.
		if workflow.GetVersion(ctx, persistActivityChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			pctx, _ := workflow.NewDisconnectedContext(lctx)
			err = workflow.ExecuteLocalActivity(pctx, PersistArtifactActivity, persist).Get(pctx, &saved)
		} else {
			pctx, _ := workflow.NewDisconnectedContext(workflow.WithActivityOptions(ctx, persistOptions()))
			err = workflow.ExecuteActivity(pctx, PersistArtifactActivity, persist).Get(pctx, &saved)
		}
		if err != nil {
			return fail(logger, err, "persist artifact")
		}
	}
	if out.TimedOut {
		if place.ArtifactID != "" {
			// The function was abandoned; so are the children it started.
			cancelChildren(ctx, logger, jobID)
		}
		// The artifact keeps the partial output; the job itself failed.
		msg := fmt.Sprintf("run task %s: %s (partial output in artifact %s)", task.ID, task.TimeoutMessage(), saved.ArtifactID)
		cause := temporal.NewNonRetryableApplicationError(task.TimeoutMessage(), ErrTypeTimeout, nil)
		return ExecuteResult{}, temporal.NewNonRetryableApplicationError(msg, jobFailedType, cause)
	}

	return ExecuteResult{ArtifactID: saved.ArtifactID, StartedAt: out.StartedAt, FinishedAt: out.FinishedAt, Outcome: out.Outcome}, nil
}

// runLocally runs the run step as a local activity, inside the workflow
// task that started the job (only for steps bounded by runStartToClose,
// below the server's workflow-task heartbeat limit that chaptask's server
// configurations raise to 48 h): Temporal records it as one marker when the
// task completes, with the job's end in the same write. A run that
// outlasts the workflow task's timeout keeps it open with heartbeats (the
// SDK's), and a cancel request reaches the workflow at the next one; a
// cancel through the worker's own API stops the command at once and the
// workflow then waits for the request itself, so the job closes canceled
// as Temporal's cancel would have closed it.
func runLocally(ctx workflow.Context, opts workflow.ActivityOptions, run RunInput, out *RunOutput) error {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: opts.StartToCloseTimeout,
		RetryPolicy:         opts.RetryPolicy,
	})
	err := workflow.ExecuteLocalActivity(lctx, RunTaskActivity, run).Get(lctx, out)
	var appErr *temporal.ApplicationError
	if err == nil || !errors.As(err, &appErr) || appErr.Type() != ErrTypeCanceledHere {
		return err
	}
	// The cancel request was accepted before the command was stopped, so
	// it is on its way; the bound only keeps a lost one from holding the
	// job open for ever.
	if _, werr := workflow.AwaitWithTimeout(ctx, canceledHereWait, func() bool { return false }); werr != nil {
		return werr
	}
	return err
}

// canceledHereWait bounds how long a job whose command a local cancel
// stopped waits for Temporal's cancel request before it fails instead.
const canceledHereWait = time.Minute

// databaseRetryPolicy retries a database step with capped backoff and no
// limit on attempts.
func databaseRetryPolicy() *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        200 * time.Millisecond,
		BackoffCoefficient:     2,
		MaximumInterval:        DatabaseRetryInterval,
		NonRetryableErrorTypes: []string{ErrTypeTaskNotFound, ErrTypeOutputNotFound, ErrTypeOutputNotStorable},
	}
}

// persistOptions are the persist step's activity options. There is no
// schedule-to-close timeout: the server retries the step for as long as
// the job lives, so an outage of any length loses no output that reached
// the workflow.
func persistOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: localStepTimeout,
		RetryPolicy:         databaseRetryPolicy(),
	}
}

// DatabaseRetryInterval caps the wait between attempts to reach the
// database, so a job notices within seconds that it is back.
const DatabaseRetryInterval = 10 * time.Second

// runOptions are the run step's activity options for task.
func runOptions(task TaskSnapshot) workflow.ActivityOptions {
	startToClose := runStartToClose
	if limit := task.Timeout() + runTimeoutMargin; task.Timeout() > 0 && limit > startToClose {
		startToClose = limit
	}
	policy := DefaultRetryPolicy()
	if task.RetryPolicy != nil {
		policy = *task.RetryPolicy
	}
	return workflow.ActivityOptions{
		StartToCloseTimeout: startToClose,
		HeartbeatTimeout:    runHeartbeatTimeout,
		// The job is reported canceled only once the command is dead, and
		// a cancel never starts another attempt.
		WaitForCancellation: true,
		RetryPolicy:         temporalRetryPolicy(policy),
	}
}

// temporalRetryPolicy converts a task's retry policy. The API validates
// policies; the clamps here keep a row edited behind its back from turning
// into something Temporal rejects or reads as "retry forever" (0 attempts).
func temporalRetryPolicy(p RetryPolicy) *temporal.RetryPolicy {
	def := DefaultRetryPolicy()
	initial := seconds(p.InitialIntervalSeconds)
	if initial <= 0 {
		initial = seconds(def.InitialIntervalSeconds)
	}
	return &temporal.RetryPolicy{
		InitialInterval:        initial,
		BackoffCoefficient:     max(p.BackoffCoefficient, 1),
		MaximumInterval:        max(seconds(p.MaximumIntervalSeconds), initial),
		MaximumAttempts:        int32(min(max(p.MaxAttempts, 1), math.MaxInt32)),
		NonRetryableErrorTypes: []string{ErrTypeBadTask},
	}
}

// seconds converts a number of seconds, within [0, maxRetryInterval].
func seconds(s float64) time.Duration {
	switch {
	case !(s > 0):
		return 0
	case s >= maxRetryInterval.Seconds():
		return maxRetryInterval
	}
	return time.Duration(s * float64(time.Second))
}

// fail ends the job. Cancellation passes through untouched so the execution
// closes as canceled; anything else fails the workflow with a message that
// says which step failed and why.
//
// The workflow records nothing else (no memo or search attribute updates):
// every such update is one more visibility write, the most expensive thing
// an embedded server does per job.
func fail(logger log.Logger, err error, format string, args ...any) (ExecuteResult, error) {
	if temporal.IsCanceledError(err) {
		logger.Info("job canceled")
		return ExecuteResult{}, err
	}
	msg := fmt.Sprintf(format, args...) + ": " + failureMessage(err)
	logger.Warn("job failed", "error", msg)
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
