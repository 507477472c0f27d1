package cli

import (
	"encoding/json"
	"time"
)

// The client's own view of the API's JSON: only the fields it shows or acts
// on. --json output prints the server's documents as sent instead, so fields
// added to the API later still reach scripts.

type task struct {
	ID         string          `json:"id"`
	Command    string          `json:"command"`
	TaskType   string          `json:"task_type"`
	Parameters json.RawMessage `json:"parameters"`
	Enabled    bool            `json:"enabled"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// Job statuses.
const (
	statusPending   = "pending"
	statusRunning   = "running"
	statusCompleted = "completed"
	statusFailed    = "failed"
	statusCanceled  = "canceled"
)

type job struct {
	ID             string     `json:"id"`
	TaskID         string     `json:"task_id"`
	Status         string     `json:"status"`
	ArtifactID     *string    `json:"artifact_id"`
	SubmittedAt    time.Time  `json:"submitted_at"`
	StartedAt      *time.Time `json:"started_at"`
	FinishedAt     *time.Time `json:"finished_at"`
	Error          *string    `json:"error"`
	ErrorTraceback *string    `json:"error_traceback"`
	// Progress is shown while waiting when a server reports it; servers
	// that do not simply leave it out.
	Progress *jobProgress `json:"progress,omitempty"`
}

type jobProgress struct {
	Percent *float64 `json:"percent"`
	Message string   `json:"message"`
}

func (j *job) terminal() bool {
	return j.Status == statusCompleted || j.Status == statusFailed || j.Status == statusCanceled
}

type artifact struct {
	ID         string          `json:"id"`
	ParentID   *string         `json:"parent_id"`
	Level      int             `json:"level"`
	LevelLabel *string         `json:"level_label,omitempty"`
	Data       json.RawMessage `json:"data"`
	CreatedAt  time.Time       `json:"created_at"`
	Children   []artifact      `json:"children,omitempty"`
}

// execution is the data of an execution artifact: a shell run has ExitCode,
// a function run has Result and Error.
type execution struct {
	Stdout   *string         `json:"stdout"`
	Stderr   *string         `json:"stderr"`
	ExitCode *int            `json:"exit_code"`
	Result   json.RawMessage `json:"result"`
	Error    *functionError  `json:"error"`
	// Present when the service kept only the start of a long output.
	StdoutTruncated bool `json:"stdout_truncated"`
	StderrTruncated bool `json:"stderr_truncated"`
}

type functionError struct {
	Type      string `json:"type"`
	Message   string `json:"message"`
	Traceback string `json:"traceback"`
}

type executeReply struct {
	JobID string `json:"job_id"`
}

// page is the paginated list envelope.
type page[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
	Page  int `json:"page"`
	Size  int `json:"size"`
	Pages int `json:"pages"`
}
