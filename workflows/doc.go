// Package workflows holds the job workflow and the types its steps exchange.
//
// A job is one execution of ExecuteTaskWorkflow whose workflow id is the job
// id. It snapshots the task (local activity), runs it (a regular activity
// that heartbeats, so cancellation and dead workers are noticed within
// seconds), and persists the execution artifact (local activity).
//
// Code here must stay deterministic: only the Temporal workflow API, no
// database, clock, goroutines or map iteration.
package workflows
