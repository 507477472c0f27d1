package workflows

import (
	"encoding/json"
	"time"
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
	// DefaultTaskQueue is the task queue jobs use unless configured otherwise.
	DefaultTaskQueue = "chaptask"
)

// Custom search attributes every job carries, so that the Temporal Web UI
// shows them and visibility queries can filter on them.
const (
	SearchAttrTaskID   = "ChaptaskTaskID"
	SearchAttrTaskType = "ChaptaskTaskType"
	SearchAttrCommand  = "ChaptaskCommand"
)

// Error types of application failures the workflow and activities raise.
const (
	ErrTypeTaskNotFound   = "TaskNotFound"
	ErrTypeBadTask        = "BadTask"
	ErrTypeOutputNotFound = "OutputNotFound"
)

// ExecuteInput starts a job.
type ExecuteInput struct {
	TaskID string `json:"task_id"`
	// Snapshot, when set, is run instead of the task as it is now: a rerun
	// repeats the exact task an earlier job ran.
	Snapshot *TaskSnapshot `json:"snapshot,omitempty"`
}

// ExecuteResult is what a completed job returns.
type ExecuteResult struct {
	ArtifactID string    `json:"artifact_id"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

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
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// IsFunction reports whether the task runs a registered function rather than
// a shell command.
func (t TaskSnapshot) IsFunction() bool {
	return t.TaskType == "go" || t.TaskType == "python"
}

// RunInput is the run step's input.
type RunInput struct {
	JobID string       `json:"job_id"`
	Task  TaskSnapshot `json:"task"`
}

// RunOutput is the run step's result. Small artifact data travels inline;
// large data is staged in the database by the run step and only Staged
// crosses Temporal, keeping payloads far below Temporal's size limits.
type RunOutput struct {
	StartedAt  time.Time       `json:"started_at"`
	FinishedAt time.Time       `json:"finished_at"`
	Data       json.RawMessage `json:"data,omitempty"`
	Staged     bool            `json:"staged,omitempty"`
}

// PersistInput is the persist step's input.
type PersistInput struct {
	JobID  string    `json:"job_id"`
	TaskID string    `json:"task_id"`
	Output RunOutput `json:"output"`
}

// PersistOutput names the stored artifact.
type PersistOutput struct {
	ArtifactID string `json:"artifact_id"`
}
