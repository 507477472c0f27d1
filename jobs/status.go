package jobs

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/workflows"
)

// A job's status is decided here, and only here: statusOf reads it from
// the workflow's execution status, refineLive tells pending from running
// for a live job, and visibilityFilter is the reverse of statusOf for
// listing. The values are defined in domain.

// Statuses of a job (the values of domain, named here for callers of jobs).
const (
	StatusPending   = domain.StatusPending
	StatusRunning   = domain.StatusRunning
	StatusCompleted = domain.StatusCompleted
	StatusFailed    = domain.StatusFailed
	StatusCanceled  = domain.StatusCanceled
)

// Statuses lists every status, for validating filters.
var Statuses = domain.Statuses

// statusOf is a job's status as far as its execution status tells: a live
// job is pending until refineLive sees its run step started.
func statusOf(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return StatusPending
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return StatusCompleted
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return StatusCanceled
	default: // failed, terminated, timed out, continued-as-new
		return StatusFailed
	}
}

// visibilityFilter is the visibility query clause (with its leading AND)
// selecting the executions whose statusOf is status; "" for any status.
// Pending and running are both live executions: List tells them apart
// after reading.
func visibilityFilter(status string) string {
	switch status {
	case StatusCompleted:
		return " AND ExecutionStatus = 'Completed'"
	case StatusCanceled:
		return " AND ExecutionStatus = 'Canceled'"
	case StatusFailed:
		return " AND (ExecutionStatus = 'Failed' OR ExecutionStatus = 'Terminated' OR ExecutionStatus = 'TimedOut')"
	case StatusPending, StatusRunning:
		return " AND ExecutionStatus = 'Running'"
	}
	return ""
}

// Terminal reports whether the job will not change any more.
func (j *Job) Terminal() bool {
	return j.Status == StatusCompleted || j.Status == StatusFailed || j.Status == StatusCanceled
}

// refineLive tells pending from running for a live job: running once a
// worker has started its run step, and still running while the result is
// persisted after it.
func refineLive(job *Job, desc *workflowservice.DescribeWorkflowExecutionResponse) {
	if job.runsLocally {
		refineLocal(job, desc)
		return
	}
	for _, pa := range desc.GetPendingActivities() {
		if pa.GetActivityType().GetName() != workflows.RunTaskActivity {
			continue
		}
		if pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED || pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED {
			job.Status = StatusRunning
			if t := pa.GetLastStartedTime(); t != nil {
				started := micro(t.AsTime())
				job.StartedAt = &started
				job.UpdatedAt = started
			}
			job.Progress = progressFrom(pa.GetHeartbeatDetails())
		}
		return
	}
	// No run step pending: it is either not scheduled yet (snapshot) or
	// already done (persist). The history length tells them apart without
	// reading the history: scheduling the run step ends the first workflow
	// task (events 1-6), and finishing it adds at least two events more.
	// Only a snapshot retried across many workflow tasks (a long database
	// outage) can look like the second case.
	if desc.GetWorkflowExecutionInfo().GetHistoryLength() > runScheduledHistoryLength {
		job.Status = StatusRunning
	}
}

// runScheduledHistoryLength is the history length once the first workflow
// task has scheduled the run step.
const runScheduledHistoryLength = 6

// refineLocal tells pending from running for a job whose run step is a
// local activity: it runs inside a started workflow task (a task that
// outlasts the workflow task timeout is heartbeated into a new one, started
// at once), and the persist step, when the database was down, is the only
// activity such a job schedules.
func refineLocal(job *Job, desc *workflowservice.DescribeWorkflowExecutionResponse) {
	wt := desc.GetPendingWorkflowTask()
	if wt.GetState() == enumspb.PENDING_WORKFLOW_TASK_STATE_STARTED {
		job.Status = StatusRunning
		// A heartbeated task was started later than the step; the
		// chain's first schedule is the closest Temporal keeps.
		at := wt.GetStartedTime()
		if desc.GetWorkflowExecutionInfo().GetHistoryLength() > firstTaskStartedHistoryLength {
			at = wt.GetOriginalScheduledTime()
		}
		if at != nil {
			started := micro(at.AsTime())
			job.StartedAt = &started
			job.UpdatedAt = started
		}
		return
	}
	if len(desc.GetPendingActivities()) > 0 {
		job.Status = StatusRunning
	}
}

// firstTaskStartedHistoryLength is the history length while the first
// workflow task runs: started, task scheduled, task started.
const firstTaskStartedHistoryLength = 3
