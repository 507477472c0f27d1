package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/metrics"
	"github.com/chaptask/chaptask/registry"
	"github.com/chaptask/chaptask/workflows"
)

// Defaults for the zero fields of Activities.
const (
	DefaultMaxOutputBytes = 4 << 20
	DefaultKillGrace      = 2 * time.Second
	// DefaultInlineLimit is the largest artifact that travels through
	// Temporal; bigger ones are staged in the database.
	DefaultInlineLimit = 128 << 10
	heartbeatEvery     = time.Second
)

// Activities are the steps of a job. They hold their dependencies and are
// registered once per worker.
type Activities struct {
	DB       *bun.DB
	Registry *registry.Registry
	Logger   *slog.Logger
	// ShellEnv is the environment of shell commands (see ShellEnv).
	ShellEnv []string
	// MaxOutputBytes is how much of stdout, and of stderr, a job keeps.
	MaxOutputBytes int64
	// KillGrace is how long a canceled command has between SIGTERM and
	// SIGKILL.
	KillGrace time.Duration
	// InlineLimit is the largest artifact passed through Temporal.
	InlineLimit int
	// ShellDisabled refuses shell tasks on this worker, whatever the API
	// that submitted them allowed.
	ShellDisabled bool
	// Metrics receives job outcomes and timings; nil records none.
	Metrics *metrics.Metrics
	// RunAs, when not nil, is the user shell commands run as.
	RunAs *RunAs
}

// Register registers every step under its stable name.
func (a *Activities) Register(w worker.ActivityRegistry) {
	w.RegisterActivityWithOptions(a.SnapshotTask, activity.RegisterOptions{Name: workflows.SnapshotTaskActivity})
	w.RegisterActivityWithOptions(a.RunTask, activity.RegisterOptions{Name: workflows.RunTaskActivity})
	w.RegisterActivityWithOptions(a.PersistArtifact, activity.RegisterOptions{Name: workflows.PersistArtifactActivity})
}

// SnapshotTask reads the task as it is now.
func (a *Activities) SnapshotTask(ctx context.Context, in workflows.SnapshotInput) (workflows.TaskSnapshot, error) {
	t, err := db.GetTask(ctx, a.DB, in.TaskID)
	if errors.Is(err, db.ErrNotFound) {
		// Final: the job fails. Its task type went with the task.
		a.Metrics.JobFinished(metrics.OtherTaskType, metrics.StatusFailed)
		a.logger().Warn("job's task was deleted before it ran", "job_id", activity.GetInfo(ctx).WorkflowExecution.ID, "task_id", in.TaskID)
		return workflows.TaskSnapshot{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("task %s was deleted before the job ran", in.TaskID), workflows.ErrTypeTaskNotFound, nil)
	}
	if err != nil {
		return workflows.TaskSnapshot{}, err
	}
	return Snapshot(t)
}

// Snapshot freezes task row t for a job. A retry policy that does not
// decode (a row edited behind the API's back) is a BadTask error: the job
// cannot run.
func Snapshot(t *db.Task) (workflows.TaskSnapshot, error) {
	var policy *workflows.RetryPolicy
	if t.RetryPolicy != nil {
		policy = new(workflows.RetryPolicy)
		if err := json.Unmarshal(t.RetryPolicy, policy); err != nil {
			return workflows.TaskSnapshot{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("task %s has an unreadable retry_policy: %v", t.ID, err), workflows.ErrTypeBadTask, nil)
		}
	}
	return workflows.TaskSnapshot{
		ID:             t.ID,
		Command:        t.Command,
		TaskType:       t.TaskType,
		Parameters:     json.RawMessage(t.Parameters),
		Enabled:        t.Enabled,
		TimeoutSeconds: t.TimeoutSeconds,
		RetryPolicy:    policy,
		CreatedAt:      t.CreatedAt.UTC(),
		UpdatedAt:      t.UpdatedAt.UTC(),
	}, nil
}

// shellArtifact is the data of a shell execution artifact. Field order is
// the order chapkit writes.
type shellArtifact struct {
	Task            workflows.TaskSnapshot `json:"task"`
	Stdout          string                 `json:"stdout"`
	Stderr          string                 `json:"stderr"`
	ExitCode        int                    `json:"exit_code"`
	StdoutTruncated bool                   `json:"stdout_truncated,omitempty"`
	StdoutBytes     *int64                 `json:"stdout_bytes,omitempty"`
	StderrTruncated bool                   `json:"stderr_truncated,omitempty"`
	StderrBytes     *int64                 `json:"stderr_bytes,omitempty"`
	// TimedOut and Error are set only when the task's timeout stopped the
	// command, so the artifacts of other runs keep chapkit's shape.
	TimedOut bool            `json:"timed_out,omitempty"`
	Error    *registry.Error `json:"error,omitempty"`
}

// streamResult is one stream of a shell artifact: the kept text, and the
// stream's whole size only when some of it was dropped.
func streamResult(c *capture) (text string, truncated bool, size *int64) {
	text, truncated, total := c.result()
	if truncated {
		size = &total
	}
	return text, truncated, size
}

// functionArtifact is the data of a function execution artifact.
type functionArtifact struct {
	Task   workflows.TaskSnapshot `json:"task"`
	Result json.RawMessage        `json:"result"`
	Error  *registry.Error        `json:"error"`
	// TimedOut is set only when the task's timeout stopped the function.
	TimedOut bool `json:"timed_out,omitempty"`
}

// timeoutError is data.error of a run the task's timeout stopped.
func timeoutError(task workflows.TaskSnapshot) *registry.Error {
	return &registry.Error{Type: workflows.ErrTypeTimeout, Message: task.TimeoutMessage()}
}

// RunTask runs the task and returns its artifact data, inline or staged. A
// command that fails is a result, not an error; errors here are
// infrastructure failures, retried by the workflow's policy.
//
// The task's timeout is enforced here rather than by Temporal, so that a
// timed-out run still returns what it printed: the output comes back
// marked TimedOut, and the workflow stores it and fails the job.
func (a *Activities) RunTask(ctx context.Context, in workflows.RunInput) (workflows.RunOutput, error) {
	logger := a.logger().With("job_id", in.JobID, "task_id", in.Task.ID)
	info := activity.GetInfo(ctx)
	if info.Attempt == 1 && !in.SubmittedAt.IsZero() {
		// Both times are the Temporal server's, so worker clock skew
		// does not enter.
		a.Metrics.ObserveQueueWait(in.Task.TaskType, info.StartedTime.Sub(in.SubmittedAt))
	}
	out, err := a.runTask(ctx, in, logger)
	if err != nil {
		status := runOutcome(ctx, info, err)
		if status == metrics.StatusFailed {
			logger.Warn("run step failed and will not be retried: the job fails", "error", err, "attempt", info.Attempt)
		}
		if status != "" {
			a.Metrics.JobFinished(in.Task.TaskType, status)
		}
	}
	return out, err
}

// runOutcome tells what a run step's error means for the job: canceled
// when a cancellation request stopped the command, failed when the workflow
// will not retry the step, and "" when it will, when this worker is
// shutting down (another one takes the job over), or when the job ended
// some other way (terminated, paused or reset from Temporal).
func runOutcome(ctx context.Context, info activity.Info, err error) string {
	select {
	case <-activity.GetWorkerStopChannel(ctx):
		return ""
	default:
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// The SDK gives the reason as the cause: a cancellation request,
		// or the job being gone (terminated) or paused.
		var canceled *temporal.CanceledError
		if errors.As(context.Cause(ctx), &canceled) {
			return metrics.StatusCanceled
		}
		return ""
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.NonRetryable() {
		return metrics.StatusFailed
	}
	if p := info.RetryPolicy; p != nil && p.MaximumAttempts > 0 && info.Attempt >= p.MaximumAttempts {
		return metrics.StatusFailed
	}
	return ""
}

func (a *Activities) runTask(ctx context.Context, in workflows.RunInput, logger *slog.Logger) (workflows.RunOutput, error) {
	out := workflows.RunOutput{StartedAt: time.Now().UTC()}
	// runCtx ends at the deadline or on cancellation; ctx only on
	// cancellation, which is how the two are told apart.
	runCtx := ctx
	if limit := in.Task.Timeout(); limit > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	timedOut := func() bool {
		return ctx.Err() == nil && errors.Is(runCtx.Err(), context.DeadlineExceeded)
	}
	var data any
	switch {
	case in.Task.TaskType == "shell" && a.ShellDisabled:
		return out, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("task %s is a shell task and shell tasks are disabled on this worker", in.Task.ID), workflows.ErrTypeBadTask, nil)
	case in.Task.TaskType == "shell":
		var live *liveLog
		if a.DB != nil {
			live = startLiveLog(ctx, a.DB, in.JobID, activity.GetInfo(ctx).Attempt, a.maxOutput(), logger)
		}
		run, err := runShell(runCtx, in.Task.Command, a.shellEnv(in), a.RunAs, a.maxOutput(), a.killGrace(), heartbeatEvery,
			func() { activity.RecordHeartbeat(ctx) }, live)
		live.close(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			logger.Info("job canceled; its process group was killed")
			return out, ctx.Err()
		case err != nil && timedOut():
			logger.Info("job timed out; its process group was killed", "timeout", in.Task.Timeout())
			out.TimedOut = true
		case err != nil:
			return out, fmt.Errorf("run shell command: %w", err)
		}
		art := shellArtifact{Task: in.Task, ExitCode: run.exitCode}
		art.Stdout, art.StdoutTruncated, art.StdoutBytes = streamResult(run.stdout)
		art.Stderr, art.StderrTruncated, art.StderrBytes = streamResult(run.stderr)
		if out.TimedOut {
			art.TimedOut, art.Error = true, timeoutError(in.Task)
		}
		data = art
	case in.Task.IsFunction():
		res, err := a.runFunction(ctx, runCtx, in, logger)
		if err != nil {
			return out, err
		}
		out.TimedOut = res.TimedOut
		data = res
	default:
		return out, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("task %s has unknown task_type %q", in.Task.ID, in.Task.TaskType), workflows.ErrTypeBadTask, nil)
	}
	out.FinishedAt = time.Now().UTC()

	raw, err := json.Marshal(data)
	if err != nil {
		return out, fmt.Errorf("encode artifact: %w", err)
	}
	if id, ok := a.storeArtifact(ctx, in, out, raw, logger); ok {
		out.ArtifactID = id
		return out, nil
	}
	if len(raw) <= a.inlineLimit() {
		out.Data = raw
		return out, nil
	}
	if err := db.StageJobOutput(ctx, a.DB, in.JobID, raw); err != nil {
		return out, err
	}
	out.Staged = true
	return out, nil
}

// storeInRunTimeout bounds the run step's attempt to store the artifact,
// well inside the heartbeat timeout: past it, the persist step takes over.
const storeInRunTimeout = 3 * time.Second

// storeArtifact stores the job's artifact from the run step, which spares
// the workflow its persist step: a local activity, a marker in the history
// and the data's trip through Temporal. It reports false when the artifact
// could not be stored; the data then goes back to the workflow, whose
// persist step retries until the database is back, as before.
func (a *Activities) storeArtifact(ctx context.Context, in workflows.RunInput, out workflows.RunOutput, raw []byte, logger *slog.Logger) (string, bool) {
	if a.DB == nil {
		return "", false
	}
	runID := activity.GetInfo(ctx).WorkflowExecution.RunID
	// The work is done: a cancellation that arrives now must not lose it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeInRunTimeout)
	defer cancel()
	id, created, err := db.PersistJobArtifact(ctx, a.DB, db.Execution{JobID: in.JobID, RunID: runID, TaskID: in.Task.ID, StartedAt: out.StartedAt, Data: db.JSON(raw)})
	if err != nil {
		logger.Warn("store artifact failed; the persist step retries it", "error", err)
		return "", false
	}
	if created {
		a.jobStored(in.Task.TaskType, out)
	}
	return id, true
}

// jobStored counts a job whose artifact was just stored. Only the call that
// stored it counts, so a retried step does not count the job twice.
func (a *Activities) jobStored(taskType string, out workflows.RunOutput) {
	status := metrics.StatusCompleted
	if out.TimedOut {
		status = metrics.StatusFailed // the artifact is partial; the workflow fails the job
	}
	a.Metrics.JobFinished(taskType, status)
	a.Metrics.ObserveJobDuration(taskType, out.FinishedAt.Sub(out.StartedAt))
}

// runFunction calls the registered function with a job-scoped logger and a
// progress reporter that rides on activity heartbeats. The function gets
// runCtx, which also carries the task's deadline; ctx is the activity's own.
func (a *Activities) runFunction(ctx, runCtx context.Context, in workflows.RunInput, logger *slog.Logger) (functionArtifact, error) {
	// The latest report rides on every heartbeat: Temporal keeps only the
	// last heartbeat's details, and that is where job records read progress.
	var mu sync.Mutex
	var last *registry.ProgressUpdate
	heartbeat := func() {
		mu.Lock()
		defer mu.Unlock()
		if last != nil {
			activity.RecordHeartbeat(ctx, *last)
		} else {
			activity.RecordHeartbeat(ctx)
		}
	}
	progress := registry.NewProgress(func(u registry.ProgressUpdate) {
		mu.Lock()
		last = &u
		mu.Unlock()
		heartbeat()
	})
	done := make(chan registry.Result, 1)
	go func() {
		done <- a.Registry.Call(runCtx, in.Task.Command, in.Task.Parameters, logger, progress)
	}()
	timedOut := functionArtifact{Task: in.Task, Result: json.RawMessage("null"), Error: timeoutError(in.Task), TimedOut: true}
	// Heartbeat while the function runs, so cancellation reaches it and a
	// dead worker is noticed even if the function reports nothing.
	ticker := time.NewTicker(heartbeatEvery)
	defer ticker.Stop()
	for {
		select {
		case res := <-done:
			if ctx.Err() != nil {
				return functionArtifact{}, ctx.Err()
			}
			if runCtx.Err() != nil {
				// Whatever a function returns past its deadline, it ran
				// out of time; most likely it returned runCtx's error.
				return timedOut, nil
			}
			result := res.Value
			if res.Err != nil {
				result = json.RawMessage("null")
			}
			return functionArtifact{Task: in.Task, Result: result, Error: res.Err}, nil
		case <-ticker.C:
			heartbeat()
		case <-runCtx.Done():
			// A function, like a shell command between SIGTERM and
			// SIGKILL, gets the kill grace to return.
			select {
			case <-done:
			case <-time.After(a.killGrace()):
				// Go cannot stop a goroutine: the function keeps running
				// until it returns, but the job ends now.
				logger.Warn("function ignored its context; abandoning it", "function", in.Task.Command)
			}
			if ctx.Err() != nil {
				return functionArtifact{}, ctx.Err()
			}
			return timedOut, nil
		}
	}
}

// PersistArtifact stores the job's artifact exactly once, however often it
// is retried, when the run step could not.
func (a *Activities) PersistArtifact(ctx context.Context, in workflows.PersistInput) (workflows.PersistOutput, error) {
	var data db.JSON
	if !in.Output.Staged {
		data = db.JSON(in.Output.Data)
	}
	runID := activity.GetInfo(ctx).WorkflowExecution.RunID
	id, created, err := db.PersistJobArtifact(ctx, a.DB, db.Execution{JobID: in.JobID, RunID: runID, TaskID: in.TaskID, StartedAt: in.Output.StartedAt, Data: data})
	if errors.Is(err, db.ErrNotFound) {
		a.Metrics.JobFinished(in.TaskType, metrics.StatusFailed)
		a.logger().Warn("job's output is gone; the job fails", "job_id", in.JobID, "task_id", in.TaskID)
		return workflows.PersistOutput{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeOutputNotFound, err)
	}
	if err != nil {
		// Logged here although returned: the SDK retries a failing local
		// activity silently, and an operator should see why a finished job
		// stays running (typically a database outage).
		a.logger().Warn("store artifact failed; retrying", "job_id", in.JobID, "attempt", activity.GetInfo(ctx).Attempt, "error", err)
		return workflows.PersistOutput{}, err
	}
	if created {
		a.jobStored(in.TaskType, in.Output)
	}
	return workflows.PersistOutput{ArtifactID: id}, nil
}

func (a *Activities) shellEnv(in workflows.RunInput) []string {
	env := append([]string(nil), a.ShellEnv...)
	return append(env, "CHAPTASK_JOB_ID="+in.JobID, "CHAPTASK_TASK_ID="+in.Task.ID)
}

func (a *Activities) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

func (a *Activities) maxOutput() int64 {
	if a.MaxOutputBytes <= 0 {
		return DefaultMaxOutputBytes
	}
	return a.MaxOutputBytes
}

func (a *Activities) killGrace() time.Duration {
	if a.KillGrace <= 0 {
		return DefaultKillGrace
	}
	return a.KillGrace
}

func (a *Activities) inlineLimit() int {
	if a.InlineLimit <= 0 {
		return DefaultInlineLimit
	}
	return a.InlineLimit
}
