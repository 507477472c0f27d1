package domain

// Policy is what a deployment allows beyond the task itself. The zero
// Policy allows everything.
type Policy struct {
	// ShellDisabled refuses to create, run or schedule shell tasks.
	ShellDisabled bool
	// TasksReadOnly refuses task writes through the API: tasks come from
	// a file the operator manages. Execution still works.
	TasksReadOnly bool
}

// AllowsShell is the shell rule: whether a task of taskType may be created,
// run or scheduled here. Every refusal of a shell task, in the API, the
// tasks file and the worker, asks this.
func (p Policy) AllowsShell(taskType string) bool {
	return !p.ShellDisabled || taskType != TaskTypeShell
}
