package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/domain"
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
	// JobInjectables, when not nil, returns the values a function of the
	// job may ask for by type besides the registry's (such as the job's
	// child-job scheduler). ctx is the run step's.
	JobInjectables func(ctx context.Context, job JobScope) []any

	procsOnce sync.Once
	cgroups   *jobCgroups // nil where the kernel offers none
	reaper    *reaper     // the fallback without cgroups; nil where unavailable
}

// jobProcs says how the job's processes that leave its process group are
// ended: a cgroup per command where the kernel offers one, else the worker
// as their child subreaper. The first call decides and logs which.
func (a *Activities) jobProcs(jobID string, logger *slog.Logger) jobProcs {
	a.procsOnce.Do(func() {
		var cgErr, reapErr error
		if a.cgroups, cgErr = newJobCgroups(); cgErr == nil {
			a.logger().Info("shell commands run in a cgroup each; ending a job kills every process it started", "cgroup", a.cgroups.dir)
			return
		}
		if a.reaper, reapErr = newReaper(); reapErr == nil {
			a.logger().Info("shell commands run without cgroups; the worker is their child subreaper and kills what a job leaves behind", "reason", cgErr)
			return
		}
		a.logger().Warn("processes that leave a job's process group (setsid, double forks) may outlive the job", "no_cgroup", cgErr, "no_subreaper", reapErr)
	})
	procs := jobProcs{reaper: a.reaper, jobID: jobID}
	var err error
	if procs.cgroup, err = a.cgroups.create(jobID); err != nil {
		logger.Warn("job runs without a cgroup of its own", "error", err)
	}
	return procs
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
		a.Metrics.JobFinished(metrics.OtherTaskType, domain.StatusFailed)
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
		if status == domain.StatusFailed {
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
		if errors.As(context.Cause(ctx), &canceled) || errors.Is(context.Cause(ctx), workflows.ErrCanceledHere) {
			return domain.StatusCanceled
		}
		return ""
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.NonRetryable() {
		return domain.StatusFailed
	}
	if p := info.RetryPolicy; p != nil && p.MaximumAttempts > 0 && info.Attempt >= p.MaximumAttempts {
		return domain.StatusFailed
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
	var logTail []db.LogChunk
	switch {
	case !a.policy().AllowsShell(in.Task.TaskType):
		return out, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("task %s is a shell task and shell tasks are disabled on this worker", in.Task.ID), workflows.ErrTypeBadTask, nil)
	case in.Task.TaskType == domain.TaskTypeShell:
		var live *liveLog
		if a.DB != nil {
			live = startLiveLog(ctx, a.DB, in.JobID, activity.GetInfo(ctx).Attempt, a.maxOutput(), logger)
		}
		run, err := runShell(runCtx, in.Task.Command, a.shellEnv(in), a.RunAs, a.maxOutput(), a.killGrace(), heartbeatEvery,
			func() { activity.RecordHeartbeat(ctx) }, live, a.jobProcs(in.JobID, logger))
		// Storing what the command printed may wait on a slow database:
		// heartbeats go on, so the job is not taken for one on a dead worker.
		stopBeating := keepAlive(ctx)
		defer stopBeating()
		logTail = live.close(ctx)
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
		out.Outcome = &workflows.Outcome{OK: run.exitCode == 0, ExitCode: &art.ExitCode}
		data = art
	case in.Task.IsFunction():
		res, err := a.runFunction(ctx, runCtx, in, logger)
		if err != nil {
			return out, err
		}
		stopBeating := keepAlive(ctx)
		defer stopBeating()
		out.TimedOut = res.TimedOut
		out.Outcome = functionOutcome(res.Error)
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
	raw = withoutNUL(raw)
	if a.DB == nil {
		out.Data = raw // tests of the step alone
		return out, nil
	}
	exec := placed(db.Execution{JobID: in.JobID, RunID: activity.GetInfo(ctx).WorkflowExecution.RunID, TaskID: in.Task.ID, StartedAt: out.StartedAt, Data: db.JSON(raw), Log: logTail}, in.Artifact)
	id, err := a.storeArtifact(ctx, exec, in.Task.TaskType, out, storeInRunTimeout)
	if err == nil {
		out.ArtifactID = id
		return out, nil
	}
	if errors.Is(err, db.ErrNotStorable) {
		return out, err
	}
	// The database is unavailable. Output small enough to cross Temporal
	// waits in the job's history for the persist step, which outlives
	// this worker; larger output waits here.
	logger.Warn("store artifact failed; retrying until the database is back", "error", err)
	if len(raw) <= a.inlineLimit() && logBytes(logTail) <= a.inlineLimit() {
		out.Data = raw
		for _, c := range logTail {
			out.Log = append(out.Log, workflows.LogChunk{Offset: c.Offset, Stream: c.Stream, Data: c.Data})
		}
		return out, nil
	}
	id, err = a.storeWhenBack(ctx, exec, in.Task.TaskType, out, logger)
	if err != nil {
		return out, err
	}
	out.ArtifactID = id
	return out, nil
}

// functionOutcome is a function run's outcome at a glance.
func functionOutcome(err *registry.Error) *workflows.Outcome {
	if err == nil {
		return &workflows.Outcome{OK: true}
	}
	msg := err.Message
	if len(msg) > workflows.MaxOutcomeMessage {
		msg = strings.ToValidUTF8(msg[:workflows.MaxOutcomeMessage], "") + "…"
	}
	return &workflows.Outcome{ErrorType: err.Type, ErrorMessage: msg}
}

// storeInRunTimeout bounds the run step's first attempt to store the
// artifact; past it, the output waits for the database as the run step
// explains.
const storeInRunTimeout = 3 * time.Second

// storeWhenBack retries storing a large artifact from the run step until
// the database is back, heartbeating meanwhile (see keepAlive). The output
// lives only in this worker's memory: if the worker stops first, the step
// fails and its retry runs the command again, as after a crash. A
// cancellation arriving now is too late to stop anything, so it does not
// end the wait; only the end of the step (its timeout, a terminated job)
// or the worker's shutdown does.
func (a *Activities) storeWhenBack(ctx context.Context, exec db.Execution, taskType string, out workflows.RunOutput, logger *slog.Logger) (string, error) {
	wait := 200 * time.Millisecond
	end := endOfStep(ctx)
	for attempt := 2; ; attempt++ {
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-activity.GetWorkerStopChannel(ctx):
			timer.Stop()
			return "", fmt.Errorf("worker stopping while the database is unavailable; the job's output of %d bytes is lost and the command runs again", len(exec.Data))
		case <-end:
			timer.Stop()
			return "", fmt.Errorf("store artifact: %w", context.Cause(ctx))
		}
		wait = min(2*wait, workflows.DatabaseRetryInterval)
		id, err := a.storeArtifact(ctx, exec, taskType, out, storeAttemptTimeout)
		if err == nil {
			logger.Info("stored artifact after the database came back", "attempts", attempt)
			return id, nil
		}
		if errors.Is(err, db.ErrNotStorable) {
			return "", err
		}
		if attempt%10 == 0 {
			logger.Warn("store artifact still failing; retrying", "attempt", attempt, "error", err)
		}
	}
}

// storeAttemptTimeout bounds one attempt of storeWhenBack.
const storeAttemptTimeout = 10 * time.Second

// endOfStep is closed when the step's context ends for a reason other than
// a cancellation request: its start-to-close timeout, or the job being
// gone. A cancellation request leaves it open.
func endOfStep(ctx context.Context) <-chan struct{} {
	end := make(chan struct{})
	go func() {
		<-ctx.Done()
		var canceled *temporal.CanceledError
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.As(context.Cause(ctx), &canceled) {
			close(end)
		}
	}()
	return end
}

// storeArtifact stores the job's artifact (and the end of its live output)
// within timeout. Storing it from the run step spares the workflow its
// persist step: an activity, history events and the data's trip through
// Temporal. An error wrapping db.ErrNotStorable is final; any other means
// the database is unavailable.
func (a *Activities) storeArtifact(ctx context.Context, exec db.Execution, taskType string, out workflows.RunOutput, timeout time.Duration) (string, error) {
	// The work is done: a cancellation that arrives now must not lose it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	id, created, err := db.PersistJobArtifact(ctx, a.DB, exec)
	if errors.Is(err, db.ErrNotStorable) {
		// RunTask counts the failed job.
		return "", temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeOutputNotStorable, err)
	}
	if err != nil {
		return "", err
	}
	if created {
		a.jobStored(taskType, out)
	}
	return id, nil
}

// keepAlive heartbeats every heartbeatEvery until the returned function is
// called.
func keepAlive(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(heartbeatEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

func logBytes(chunks []db.LogChunk) (n int) {
	for _, c := range chunks {
		n += len(c.Data)
	}
	return n
}

// withoutNUL replaces the JSON escape \u0000 by \ufffd: PostgreSQL's jsonb
// cannot hold NUL, and the live log shows NUL as U+FFFD already.
func withoutNUL(raw []byte) []byte {
	const nul, replacement = `\u0000`, `\ufffd`
	if !bytes.Contains(raw, []byte(nul)) {
		return raw
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			out = append(out, raw[i])
			continue
		}
		// An escape: \u0000 is replaced, any other (such as \\ before
		// the text u0000) is copied whole.
		if bytes.HasPrefix(raw[i:], []byte(nul)) {
			out = append(out, replacement...)
			i += len(nul) - 1
			continue
		}
		out = append(out, raw[i])
		if i+1 < len(raw) {
			out = append(out, raw[i+1])
			i++
		}
	}
	return out
}

// jobStored counts a job whose artifact was just stored. Only the call that
// stored it counts, so a retried step does not count the job twice.
func (a *Activities) jobStored(taskType string, out workflows.RunOutput) {
	status := domain.StatusCompleted
	if out.TimedOut {
		status = domain.StatusFailed // the artifact is partial; the workflow fails the job
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
	values := []any{logger, progress}
	if a.JobInjectables != nil {
		scope := JobScope{JobID: in.JobID, RunID: activity.GetInfo(ctx).WorkflowExecution.RunID, TaskID: in.Task.ID, Artifact: in.Artifact}
		values = append(values, a.JobInjectables(ctx, scope)...)
	}
	done := make(chan registry.Result, 1)
	go func() {
		done <- a.Registry.Call(runCtx, in.Task.Command, in.Task.Parameters, values...)
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
	var tail []db.LogChunk
	for _, c := range in.Output.Log {
		tail = append(tail, db.LogChunk{JobID: in.JobID, Offset: c.Offset, Stream: c.Stream, Data: c.Data, CreatedAt: db.Now()})
	}
	id, created, err := db.PersistJobArtifact(ctx, a.DB, placed(db.Execution{JobID: in.JobID, RunID: runID, TaskID: in.TaskID, StartedAt: in.Output.StartedAt, Data: data, Log: tail}, in.Artifact))
	if errors.Is(err, db.ErrNotStorable) {
		a.Metrics.JobFinished(in.TaskType, domain.StatusFailed)
		a.logger().Warn("the database refuses the job's output; the job fails", "job_id", in.JobID, "task_id", in.TaskID, "error", err)
		return workflows.PersistOutput{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeOutputNotStorable, err)
	}
	if errors.Is(err, db.ErrNotFound) {
		a.Metrics.JobFinished(in.TaskType, domain.StatusFailed)
		a.logger().Warn("job's output is gone; the job fails", "job_id", in.JobID, "task_id", in.TaskID)
		return workflows.PersistOutput{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeOutputNotFound, err)
	}
	if err != nil {
		// Logged here although returned: the SDK retries a failing
		// activity silently, and an operator should see why a finished job
		// stays running (typically a database outage). Retries go on for
		// as long as the job lives, so after the first ten only every
		// tenth is logged.
		if attempt := activity.GetInfo(ctx).Attempt; attempt <= 10 || attempt%10 == 0 {
			a.logger().Warn("store artifact failed; retrying", "job_id", in.JobID, "attempt", attempt, "error", err)
		}
		return workflows.PersistOutput{}, err
	}
	if created {
		a.jobStored(in.TaskType, in.Output)
	}
	return workflows.PersistOutput{ArtifactID: id}, nil
}

// JobScope is the job a run step runs, for JobInjectables.
type JobScope struct {
	JobID  string
	RunID  string
	TaskID string
	// Artifact is where the job's artifact goes; its ArtifactID is empty
	// for jobs started before artifact ids were reserved.
	Artifact workflows.ArtifactPlace
}

// placed puts the execution's artifact where the workflow placed it.
func placed(e db.Execution, p workflows.ArtifactPlace) db.Execution {
	e.ArtifactID, e.Level = p.ArtifactID, p.Level()
	if p.Parent != nil {
		e.ParentID = p.Parent.ArtifactID
	}
	return e
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

// policy is what this worker allows, whatever the API that submitted the
// job allowed.
func (a *Activities) policy() domain.Policy {
	return domain.Policy{ShellDisabled: a.ShellDisabled}
}
