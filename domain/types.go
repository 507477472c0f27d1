package domain

// Task types a task may declare. "python" is chapkit's name for a registered
// function: it runs exactly as "go" and is kept as sent.
const (
	TaskTypeShell  = "shell"
	TaskTypeGo     = "go"
	TaskTypePython = "python"
)

// TaskTypes lists every task type, in the order error messages name them.
var TaskTypes = []string{TaskTypeShell, TaskTypeGo, TaskTypePython}

// FunctionTaskTypes are the task types that run a registered function.
var FunctionTaskTypes = []string{TaskTypeGo, TaskTypePython}

// IsFunction reports whether a task of taskType runs a registered function
// rather than a shell command.
func IsFunction(taskType string) bool {
	return taskType == TaskTypeGo || taskType == TaskTypePython
}

// Statuses of a job, as the API shows them. How each is read from Temporal
// is decided in jobs/status.go.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
)

// Statuses lists every job status, for validating filters.
var Statuses = []string{StatusPending, StatusRunning, StatusCompleted, StatusFailed, StatusCanceled}
