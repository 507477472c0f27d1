package jobs

import (
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chaptask/chaptask/workflows"
)

func TestJobFromInfoStatuses(t *testing.T) {
	cases := map[enumspb.WorkflowExecutionStatus]string{
		enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:    StatusPending,
		enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:  StatusCompleted,
		enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:     StatusFailed,
		enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED: StatusFailed,
		enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:  StatusFailed,
		enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:   StatusCanceled,
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC)
	for status, want := range cases {
		t.Run(status.String(), func(t *testing.T) {
			info := &workflowpb.WorkflowExecutionInfo{
				Execution: &commonpb.WorkflowExecution{WorkflowId: "01JOB"},
				Status:    status,
				StartTime: timestamppb.New(start),
			}
			if status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				info.CloseTime = timestamppb.New(start.Add(time.Second))
			}
			job := jobFromInfo(info)
			if job.Status != want || job.ID != "01JOB" {
				t.Fatalf("job = %+v, want status %s", job, want)
			}
			if !job.SubmittedAt.Equal(start.Truncate(time.Microsecond)) {
				t.Errorf("submitted_at = %v", job.SubmittedAt)
			}
			if job.Terminal() != (job.FinishedAt != nil) {
				t.Errorf("terminal %v but finished_at %v", job.Terminal(), job.FinishedAt)
			}
		})
	}
}

func TestRefineLive(t *testing.T) {
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	run := func(state enumspb.PendingActivityState) *workflowpb.PendingActivityInfo {
		return &workflowpb.PendingActivityInfo{
			ActivityType:    &commonpb.ActivityType{Name: workflows.RunTaskActivity},
			State:           state,
			LastStartedTime: timestamppb.New(started),
		}
	}
	cases := []struct {
		name          string
		historyLength int64
		pending       []*workflowpb.PendingActivityInfo
		want          string
	}{
		{"just started", 3, nil, StatusPending},
		{"run step waiting for a slot", 6, []*workflowpb.PendingActivityInfo{run(enumspb.PENDING_ACTIVITY_STATE_SCHEDULED)}, StatusPending},
		{"run step started", 7, []*workflowpb.PendingActivityInfo{run(enumspb.PENDING_ACTIVITY_STATE_STARTED)}, StatusRunning},
		{"cancel requested while running", 8, []*workflowpb.PendingActivityInfo{run(enumspb.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED)}, StatusRunning},
		{"persisting after the run", 10, nil, StatusRunning},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := &Job{Status: StatusPending}
			refineLive(job, &workflowservice.DescribeWorkflowExecutionResponse{
				WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{HistoryLength: tc.historyLength},
				PendingActivities:     tc.pending,
			})
			if job.Status != tc.want {
				t.Errorf("status = %s, want %s", job.Status, tc.want)
			}
			if tc.pending != nil && tc.want == StatusRunning && (job.StartedAt == nil || !job.StartedAt.Equal(started)) {
				t.Errorf("started_at = %v", job.StartedAt)
			}
		})
	}
}

func TestTruncateRunes(t *testing.T) {
	if got := truncateRunes("héllo", 3); got != "hé" {
		t.Errorf("truncateRunes = %q", got)
	}
	if got := truncateRunes("abc", 5); got != "abc" {
		t.Errorf("truncateRunes = %q", got)
	}
}
