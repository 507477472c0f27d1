package workflows

import (
	"crypto/sha256"
	"time"

	"github.com/oklog/ulid/v2"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// childJobsChange versions the child-jobs path: a function job reserves its
// artifact id when it starts (so the function and its child jobs can store
// artifacts under it), and a function job whose run step ends without a
// result cancels the child jobs it left running.
const childJobsChange = "child-jobs"

// cancelChildrenTimeout bounds one attempt to cancel a job's children;
// cancelChildrenAttempts bounds the attempts, so a Temporal that refuses
// for long does not keep a finished job open.
const (
	cancelChildrenTimeout  = 30 * time.Second
	cancelChildrenAttempts = 10
)

// ReservedArtifactID is the id a job's artifact gets, known from the start
// of the run: a ULID whose time is the run's start and whose random part is
// derived from the run id, so the workflow computes it deterministically
// without a history event of its own, and every run has its own.
func ReservedArtifactID(runID string, started time.Time) string {
	sum := sha256.Sum256([]byte("artifact\x00" + runID))
	var id ulid.ULID
	_ = id.SetTime(ulid.Timestamp(started))
	copy(id[6:], sum[:10])
	return id.String()
}

// artifactPlace says where the job's artifact goes. Function jobs started
// since child jobs exist reserve their artifact's id; shell jobs cannot
// submit children, so they spare the version marker.
func artifactPlace(ctx workflow.Context, in ExecuteInput, task TaskSnapshot) ArtifactPlace {
	place := ArtifactPlace{Parent: in.Parent}
	if !task.IsFunction() || workflow.GetVersion(ctx, childJobsChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return place
	}
	info := workflow.GetInfo(ctx)
	place.ArtifactID = ReservedArtifactID(info.WorkflowExecution.RunID, info.WorkflowStartTime)
	return place
}

// cancelChildren cancels the live child jobs of a job whose run step ended
// without a result (canceled, failed or timed out), whatever ended it: the
// API, the Temporal Web UI or the CLI. It runs in a disconnected context so
// the job's own cancellation does not stop it, and a failure to reach them
// is logged, not added to the job's failure.
func cancelChildren(ctx workflow.Context, logger log.Logger, jobID string) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	dctx = workflow.WithActivityOptions(dctx, workflow.ActivityOptions{
		StartToCloseTimeout: cancelChildrenTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    200 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    DatabaseRetryInterval,
			MaximumAttempts:    cancelChildrenAttempts,
		},
	})
	if err := workflow.ExecuteActivity(dctx, CancelChildrenActivity, CancelChildrenInput{JobID: jobID}).Get(dctx, nil); err != nil {
		logger.Warn("could not cancel the job's child jobs", "error", err)
	}
}
