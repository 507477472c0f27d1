package jobs

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/workflows"
)

// memoRerunOf is the memo field naming the job a rerun repeats.
const memoRerunOf = "rerun_of"

// memoRunsLocally is the memo field of jobs started with a local run step
// (workflows.ExecuteInput.RunLocally).
const memoRunsLocally = "runs_locally"

// localActivityMarker is the name of the marker the SDK records a local
// activity's result in; its "data" detail names the activity type.
const localActivityMarker = "LocalActivity"

// Snapshot returns the task snapshot job id ran (or is running), read from
// its history: the snapshot the job was started with, else the result of
// its snapshot step (either with the job's overrides applied), else the
// input of its run step. A job that never got a snapshot answers
// ErrNoSnapshot.
func (s *Service) Snapshot(ctx context.Context, id string) (*workflows.TaskSnapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	dc := converter.GetDefaultDataConverter()
	// The job ran its snapshot with its overrides applied; so does a rerun.
	var overrides *workflows.RunOverrides
	withOverrides := func(snap workflows.TaskSnapshot) *workflows.TaskSnapshot {
		if overrides != nil {
			snap = snap.WithOverrides(*overrides)
		}
		return &snap
	}
	iter := s.client.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return nil, s.wrap(err, "read history of job %s", id)
		}
		if attrs := ev.GetWorkflowExecutionStartedEventAttributes(); attrs != nil {
			if attrs.GetWorkflowType().GetName() != workflows.ExecuteTaskWorkflow {
				return nil, ErrNotFound // another workflow sharing the namespace
			}
			var in workflows.ExecuteInput
			if err := dc.FromPayloads(attrs.GetInput(), &in); err != nil {
				return nil, fmt.Errorf("decode input of job %s: %w", id, err)
			}
			overrides = in.Overrides
			if in.Snapshot != nil {
				return withOverrides(*in.Snapshot), nil
			}
		}
		if attrs := ev.GetMarkerRecordedEventAttributes(); attrs != nil && attrs.GetMarkerName() == localActivityMarker && attrs.GetFailure() == nil {
			var marker struct{ ActivityType string }
			result := attrs.GetDetails()["result"]
			if dc.FromPayloads(attrs.GetDetails()["data"], &marker) == nil && marker.ActivityType == workflows.SnapshotTaskActivity && result != nil {
				var snap workflows.TaskSnapshot
				if err := dc.FromPayloads(result, &snap); err != nil {
					return nil, fmt.Errorf("decode snapshot of job %s: %w", id, err)
				}
				return withOverrides(snap), nil
			}
		}
		if attrs := ev.GetActivityTaskScheduledEventAttributes(); attrs != nil && attrs.GetActivityType().GetName() == workflows.RunTaskActivity {
			var in workflows.RunInput
			if err := dc.FromPayloads(attrs.GetInput(), &in); err != nil {
				return nil, fmt.Errorf("decode run input of job %s: %w", id, err)
			}
			return &in.Task, nil
		}
	}
	return nil, ErrNoSnapshot
}

// Rerun starts a new job running snap, the snapshot job of ran (see
// Snapshot), and returns its id. The new job carries the task id of the
// snapshot and names of in its record's rerun_of.
func (s *Service) Rerun(ctx context.Context, of string, snap *workflows.TaskSnapshot) (string, error) {
	jobID := db.NewID()
	err := s.start(ctx, startRequest{
		jobID:   jobID,
		task:    searchable{id: snap.ID, taskType: snap.TaskType, command: snap.Command},
		input:   workflows.ExecuteInput{TaskID: snap.ID, Snapshot: snap},
		rerunOf: of,
	})
	if err != nil {
		return "", s.wrap(err, "rerun job %s", of)
	}
	return jobID, nil
}
