package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/uptrace/bun"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/chaptask/chaptask/db"
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
		return workflows.TaskSnapshot{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("task %s was deleted before the job ran", in.TaskID), workflows.ErrTypeTaskNotFound, nil)
	}
	if err != nil {
		return workflows.TaskSnapshot{}, err
	}
	return workflows.TaskSnapshot{
		ID:         t.ID,
		Command:    t.Command,
		TaskType:   t.TaskType,
		Parameters: json.RawMessage(t.Parameters),
		Enabled:    t.Enabled,
		CreatedAt:  t.CreatedAt.UTC(),
		UpdatedAt:  t.UpdatedAt.UTC(),
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
}

// RunTask runs the task and returns its artifact data, inline or staged. A
// command that fails is a result, not an error; errors here are
// infrastructure failures, retried by the workflow's policy.
func (a *Activities) RunTask(ctx context.Context, in workflows.RunInput) (workflows.RunOutput, error) {
	logger := a.logger().With("job_id", in.JobID, "task_id", in.Task.ID)
	out := workflows.RunOutput{StartedAt: time.Now().UTC()}
	var data any
	switch {
	case in.Task.TaskType == "shell" && a.ShellDisabled:
		return out, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("task %s is a shell task and shell tasks are disabled on this worker", in.Task.ID), workflows.ErrTypeBadTask, nil)
	case in.Task.TaskType == "shell":
		run, err := runShell(ctx, in.Task.Command, a.shellEnv(in), a.maxOutput(), a.killGrace(), heartbeatEvery,
			func() { activity.RecordHeartbeat(ctx) })
		if err != nil {
			if ctx.Err() != nil {
				logger.Info("job canceled; its process group was killed")
				return out, ctx.Err()
			}
			return out, fmt.Errorf("run shell command: %w", err)
		}
		art := shellArtifact{Task: in.Task, ExitCode: run.exitCode}
		art.Stdout, art.StdoutTruncated, art.StdoutBytes = streamResult(run.stdout)
		art.Stderr, art.StderrTruncated, art.StderrBytes = streamResult(run.stderr)
		data = art
	case in.Task.IsFunction():
		res, err := a.runFunction(ctx, in, logger)
		if err != nil {
			return out, err
		}
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

// runFunction calls the registered function with a job-scoped logger and a
// progress reporter that rides on activity heartbeats.
func (a *Activities) runFunction(ctx context.Context, in workflows.RunInput, logger *slog.Logger) (functionArtifact, error) {
	progress := registry.NewProgress(func(u registry.ProgressUpdate) {
		activity.RecordHeartbeat(ctx, u)
	})
	done := make(chan registry.Result, 1)
	go func() {
		done <- a.Registry.Call(ctx, in.Task.Command, in.Task.Parameters, logger, progress)
	}()
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
			result := res.Value
			if res.Err != nil {
				result = json.RawMessage("null")
			}
			return functionArtifact{Task: in.Task, Result: result, Error: res.Err}, nil
		case <-ticker.C:
			activity.RecordHeartbeat(ctx)
		case <-ctx.Done():
			select {
			case <-done:
			case <-time.After(a.killGrace()):
				// Go cannot stop a goroutine: the function keeps running
				// until it returns, but the job ends now.
				logger.Warn("function ignored cancellation; abandoning it", "function", in.Task.Command)
			}
			return functionArtifact{}, ctx.Err()
		}
	}
}

// PersistArtifact stores the job's artifact exactly once, however often it
// is retried.
func (a *Activities) PersistArtifact(ctx context.Context, in workflows.PersistInput) (workflows.PersistOutput, error) {
	var data db.JSON
	if !in.Output.Staged {
		data = db.JSON(in.Output.Data)
	}
	runID := activity.GetInfo(ctx).WorkflowExecution.RunID
	id, err := db.PersistJobArtifact(ctx, a.DB, db.Execution{JobID: in.JobID, RunID: runID, TaskID: in.TaskID, StartedAt: in.Output.StartedAt, Data: data})
	if errors.Is(err, db.ErrNotFound) {
		return workflows.PersistOutput{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeOutputNotFound, err)
	}
	if err != nil {
		return workflows.PersistOutput{}, err
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
