// Package workflows holds the job workflow and the types its steps exchange.
//
// A job is one execution of ExecuteTaskWorkflow whose workflow id is the job
// id. It runs the task's snapshot in a regular activity that heartbeats, so
// cancellation and dead workers are noticed within seconds, and that stores
// the execution artifact. Two database steps fill in when needed: the
// snapshot step (a local activity) when the input brings no snapshot (a
// schedule's run), and the persist step (an activity the server retries
// for as long as the job lives) when the run step could not store the
// artifact because the database was unavailable. The run
// step's retry policy comes from the snapshot; its timeout is enforced
// inside the run step, and a timed-out run is stored like any other before
// the workflow fails.
//
// Code here must stay deterministic: only the Temporal workflow API, no
// database, clock, goroutines or map iteration.
package workflows
