// Package workflows holds the job workflow and the types its steps exchange.
//
// A job is one execution of ExecuteTaskWorkflow whose workflow id is the job
// id. It runs the task's snapshot in a regular activity that heartbeats, so
// cancellation and dead workers are noticed within seconds, and that stores
// the execution artifact. Two local activities fill in when needed: the
// snapshot step when the input brings no snapshot (a schedule's run), and
// the persist step when the run step could not store the artifact. The run
// step's retry policy comes from the snapshot; its timeout is enforced
// inside the run step, and a timed-out run is stored like any other before
// the workflow fails.
//
// Code here must stay deterministic: only the Temporal workflow API, no
// database, clock, goroutines or map iteration.
package workflows
