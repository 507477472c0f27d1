// Package activities is the worker's side of a job: the Temporal
// activities the job workflow calls. SnapshotTask reads the task as it is
// when the job starts (the snapshot its artifact keeps), RunTask runs it —
// a shell command in its own process group and cgroup, or a registered Go
// function through the registry — and PersistArtifact stores the outcome.
//
// Activities is a struct holding the dependencies (database, registry,
// limits, metrics), registered once with Register. Bad input is a
// non-retryable application error (workflows.ErrTypeBadTask); anything
// else is left to the retry policy.
//
// The worker applies the deployment's shell rule (domain.Policy) itself,
// whatever the API that submitted the job allowed: the rules of a task
// otherwise live in package tasks, not here. A new way to run a task is a
// case of RunTask's switch on the task type (domain.TaskType*).
package activities
