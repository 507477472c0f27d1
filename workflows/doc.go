// Package workflows holds the job workflow and the types its steps exchange.
//
// A job is one execution of ExecuteTaskWorkflow whose workflow id is the job
// id. It snapshots the task (local activity), runs it (a regular activity
// that heartbeats, so cancellation and dead workers are noticed within
// seconds), and persists the execution artifact (local activity). The run
// step's retry policy comes from the task's snapshot; its timeout is
// enforced inside the run step, and a timed-out run is persisted like any
// other before the workflow fails.
//
// Code here must stay deterministic: only the Temporal workflow API, no
// database, clock, goroutines or map iteration.
package workflows
