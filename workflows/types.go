package workflows

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/chaptask/chaptask/domain"
)

// Stable names registered with Temporal. Renaming any of them strands
// running jobs; add an alias instead.
const (
	// ExecuteTaskWorkflow is the workflow type of every job.
	ExecuteTaskWorkflow = "chaptask.ExecuteTask"
	// SnapshotTaskActivity reads the task row the job runs.
	SnapshotTaskActivity = "chaptask.SnapshotTask"
	// RunTaskActivity runs the shell command or the registered function.
	RunTaskActivity = "chaptask.RunTask"
	// PersistArtifactActivity stores the job's execution artifact.
	PersistArtifactActivity = "chaptask.PersistArtifact"
	// CancelChildrenActivity cancels the live child jobs of a job that
	// ended without completing its run step.
	CancelChildrenActivity = "chaptask.CancelChildren"
	// DefaultTaskQueue is the task queue jobs use unless configured otherwise.
	DefaultTaskQueue = "chaptask"
)

// Custom search attributes every job carries, so that the Temporal Web UI
// shows them and visibility queries can filter on them.
const (
	SearchAttrTaskID   = "ChaptaskTaskID"
	SearchAttrTaskType = "ChaptaskTaskType"
	SearchAttrCommand  = "ChaptaskCommand"
	// SearchAttrParentJob is the id of the job that started a child job;
	// unset on jobs started any other way.
	SearchAttrParentJob = "ChaptaskParentJob"
)

// Error types of application failures the workflow and activities raise.
const (
	ErrTypeTaskNotFound   = "TaskNotFound"
	ErrTypeBadTask        = "BadTask"
	ErrTypeOutputNotFound = "OutputNotFound"
	// ErrTypeOutputNotStorable is the error type of output the database
	// refuses whatever the retries (not an outage): the job fails.
	ErrTypeOutputNotStorable = "OutputNotStorable"
	ErrTypeTaskDisabled      = "TaskDisabled"
	// ErrTypeTimeout is the error type of a run stopped by the task's
	// timeout_seconds, in the artifact's data.error and the job's failure.
	ErrTypeTimeout = "Timeout"
	// ErrTypeCanceledHere is the error type of a local run step stopped by
	// a cancel of the job made in the worker's own process, ahead of the
	// cancel request that reaches the workflow in its next task.
	ErrTypeCanceledHere = "CanceledHere"
)

// ErrCanceledHere is the cause a local run step's context is canceled with
// when the job is canceled through the API of the worker's own process.
var ErrCanceledHere = errors.New("job canceled through this process's API")

// ExecuteInput starts a job.
type ExecuteInput struct {
	TaskID string `json:"task_id"`
	// ScheduleID is set on the runs a schedule starts. Such a run does not
	// run a task that is disabled by the time it starts.
	ScheduleID string `json:"schedule_id,omitempty"`
	// Snapshot, when set, is run instead of the task as it is now: a rerun
	// repeats the exact task an earlier job ran, and the API passes the
	// task it read when the job was submitted, which spares the workflow
	// its snapshot step. Runs started by schedules carry none.
	Snapshot *TaskSnapshot `json:"snapshot,omitempty"`
	// Overrides change the task for this job only; the artifact's snapshot
	// shows the task as the job ran it.
	Overrides *RunOverrides `json:"overrides,omitempty"`
	// Parent is set on child jobs: their artifact goes under the parent
	// job's artifact, one level deeper.
	Parent *ParentArtifact `json:"parent,omitempty"`
	// RunLocally makes the run step of a shell task a local activity, run
	// inside the workflow task that starts the job: two writes to
	// Temporal's store instead of five, for tasks whose runs are short
	// (the starter predicts it). Inputs written before it run the regular
	// activity, so recorded histories replay unchanged.
	RunLocally bool `json:"run_locally,omitempty"`
}

// ParentArtifact places a job's artifact in the artifact hierarchy.
type ParentArtifact struct {
	// JobID is the parent job.
	JobID string `json:"job_id"`
	// ArtifactID is the parent job's artifact, reserved when it started:
	// the row may not exist yet.
	ArtifactID string `json:"artifact_id"`
	// Level is the level of the parent's artifact.
	Level int `json:"level"`
}

// ArtifactPlace is where a job's own artifact goes: its reserved id (empty
// for jobs that reserve none, whose artifact gets a fresh id when stored)
// and its parent (nil for a root at level 0).
type ArtifactPlace struct {
	ArtifactID string          `json:"artifact_id,omitempty"`
	Parent     *ParentArtifact `json:"parent,omitempty"`
}

// Level is the level of the artifact this place describes.
func (p ArtifactPlace) Level() int {
	if p.Parent == nil {
		return 0
	}
	return p.Parent.Level + 1
}

// CancelChildrenInput names the job whose live children are canceled.
type CancelChildrenInput struct {
	JobID string `json:"job_id"`
}

// RunOverrides are what $execute may change for one job.
type RunOverrides struct {
	// Parameters are merged over the task's: a member given here replaces
	// the task's member of that name; the others stay.
	Parameters json.RawMessage `json:"parameters,omitempty"`
	// TimeoutSeconds replaces the task's timeout.
	TimeoutSeconds *int64 `json:"timeout_seconds,omitempty"`
}

// WithOverrides returns the task as one job runs it. It is deterministic
// (object members are re-encoded in sorted order), so the workflow may call
// it; parameters that are not JSON objects were refused by the API and are
// left as they are.
func (t TaskSnapshot) WithOverrides(o RunOverrides) TaskSnapshot {
	if o.TimeoutSeconds != nil {
		timeout := *o.TimeoutSeconds
		t.TimeoutSeconds = &timeout
	}
	if len(o.Parameters) == 0 {
		return t
	}
	merged := map[string]json.RawMessage{}
	if len(t.Parameters) > 0 && string(t.Parameters) != "null" {
		if err := json.Unmarshal(t.Parameters, &merged); err != nil {
			return t
		}
	}
	var over map[string]json.RawMessage
	if err := json.Unmarshal(o.Parameters, &over); err != nil {
		return t
	}
	for k, v := range over {
		merged[k] = v
	}
	raw, err := json.Marshal(merged)
	if err != nil {
		return t
	}
	t.Parameters = raw
	return t
}

// ExecuteResult is what a completed job returns.
type ExecuteResult struct {
	ArtifactID string    `json:"artifact_id"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// Outcome is the run's result at a glance, for people reading the job
	// in the Temporal Web UI; the output itself stays in the artifact.
	// Absent in results of older versions.
	Outcome *Outcome `json:"outcome,omitempty"`
}

// Outcome says how a completed job's command or function ended, in a few
// words: a completed job may still have failed in its own terms.
type Outcome struct {
	// OK is true for exit code 0, or a function that returned no error.
	OK bool `json:"ok"`
	// ExitCode is a shell command's exit status (-signal when killed).
	ExitCode *int `json:"exit_code,omitempty"`
	// ErrorType and ErrorMessage are a function's error (message cut to
	// MaxOutcomeMessage bytes).
	ErrorType    string `json:"error_type,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
}

// MaxOutcomeMessage bounds Outcome.ErrorMessage, so a long message never
// grows the workflow's history.
const MaxOutcomeMessage = 500

// SnapshotInput names the task to snapshot.
type SnapshotInput struct {
	TaskID string `json:"task_id"`
}

// TaskSnapshot is the task as it was when the job ran. It is stored in the
// artifact, so later edits or deletion of the task never change it.
type TaskSnapshot struct {
	ID         string          `json:"id"`
	Command    string          `json:"command"`
	TaskType   string          `json:"task_type"`
	Parameters json.RawMessage `json:"parameters"`
	Enabled    bool            `json:"enabled"`
	// TimeoutSeconds bounds one run attempt; nil means no limit. Snapshots
	// recorded before timeouts existed decode as nil.
	TimeoutSeconds *int64 `json:"timeout_seconds"`
	// RetryPolicy governs retries of the run step after infrastructure
	// failures; nil means DefaultRetryPolicy().
	RetryPolicy *RetryPolicy `json:"retry_policy"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

// MaxTimeoutSeconds is the longest timeout a task may have: seven days.
const MaxTimeoutSeconds = 7 * 24 * 60 * 60

// Timeout is the task's run time limit, or 0 for none. A stored value past
// MaxTimeoutSeconds counts as MaxTimeoutSeconds.
func (t TaskSnapshot) Timeout() time.Duration {
	if t.TimeoutSeconds == nil || *t.TimeoutSeconds <= 0 {
		return 0
	}
	return time.Duration(min(*t.TimeoutSeconds, MaxTimeoutSeconds)) * time.Second
}

// TimeoutMessage says that the run was stopped by the task's timeout.
func (t TaskSnapshot) TimeoutMessage() string {
	return "timed out after " + t.Timeout().String()
}

// RetryPolicy is how often, and how far apart, the run step is retried
// after an infrastructure failure (a dead worker, an activity error). A
// command's own failure, a timeout and a cancellation are never retried.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt: 1 means never retry.
	MaxAttempts int `json:"max_attempts"`
	// InitialIntervalSeconds is the wait before the first retry.
	InitialIntervalSeconds float64 `json:"initial_interval_seconds"`
	// BackoffCoefficient multiplies the wait after every retry.
	BackoffCoefficient float64 `json:"backoff_coefficient"`
	// MaximumIntervalSeconds caps the wait between retries.
	MaximumIntervalSeconds float64 `json:"maximum_interval_seconds"`
}

// DefaultRetryPolicy returns the policy of tasks without one of their own:
// the policy every job had before tasks could choose one.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:            5,
		InitialIntervalSeconds: 1,
		BackoffCoefficient:     2,
		MaximumIntervalSeconds: 30,
	}
}

// IsFunction reports whether the task runs a registered function rather than
// a shell command.
func (t TaskSnapshot) IsFunction() bool {
	return domain.IsFunction(t.TaskType)
}

// RunInput is the run step's input.
type RunInput struct {
	JobID string       `json:"job_id"`
	Task  TaskSnapshot `json:"task"`
	// SubmittedAt is when the job started (the workflow's start time), for
	// measuring its queue wait; zero in jobs started by older versions.
	SubmittedAt time.Time `json:"submitted_at,omitzero"`
	// Artifact is where the job's artifact goes; zero in jobs started by
	// older versions.
	Artifact ArtifactPlace `json:"artifact,omitzero"`
}

// RunOutput is the run step's result. The run step stores the artifact
// itself and returns its id; when it could not (the database is down), the
// data comes back for the persist step: small data inline, large data
// staged in the database, so that only Staged crosses Temporal, keeping
// payloads far below Temporal's size limits.
type RunOutput struct {
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// ArtifactID is set when the run step stored the artifact; empty in
	// results recorded by older versions, which always left it to the
	// persist step.
	ArtifactID string          `json:"artifact_id,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Staged     bool            `json:"staged,omitempty"`
	// TimedOut reports that the task's timeout stopped the run; Data holds
	// what it produced until then, and the job fails once it is stored.
	TimedOut bool `json:"timed_out,omitempty"`
	// Outcome is passed on to the job's result.
	Outcome *Outcome `json:"outcome,omitempty"`
	// Log is the end of the job's live output that the run step could not
	// store; the persist step stores it with the artifact, so the live
	// output ends with what the artifact holds.
	Log []LogChunk `json:"log,omitempty"`
}

// LogChunk is a piece of a job's live output (see db.LogChunk).
type LogChunk struct {
	Offset int64  `json:"offset"`
	Stream string `json:"stream"`
	Data   string `json:"data"`
}

// PersistInput is the persist step's input.
type PersistInput struct {
	JobID  string    `json:"job_id"`
	TaskID string    `json:"task_id"`
	Output RunOutput `json:"output"`
	// TaskType labels the job's metrics; empty in jobs started by older
	// versions.
	TaskType string `json:"task_type,omitempty"`
	// Artifact is where the job's artifact goes; zero in jobs started by
	// older versions.
	Artifact ArtifactPlace `json:"artifact,omitzero"`
}

// PersistOutput names the stored artifact.
type PersistOutput struct {
	ArtifactID string `json:"artifact_id"`
}
