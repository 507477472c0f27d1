package workflows

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// A function job reserves its artifact id and hands it, with its place in
// the hierarchy, to the run and persist steps; a shell job reserves none.
func TestExecuteTaskReservesArtifact(t *testing.T) {
	parent := &ParentArtifact{JobID: "01PARENT", ArtifactID: "01PARENTART", Level: 0}
	for _, tc := range []struct {
		taskType string
		reserved bool
	}{{"python", true}, {"go", true}, {"shell", false}} {
		t.Run(tc.taskType, func(t *testing.T) {
			s := okSteps()
			var ran RunInput
			var persisted PersistInput
			s.run = func(_ context.Context, in RunInput) (RunOutput, error) {
				ran = in
				return RunOutput{Data: []byte(`{}`)}, nil
			}
			s.persist = func(in PersistInput) (PersistOutput, error) {
				persisted = in
				return PersistOutput{ArtifactID: in.Artifact.ArtifactID}, nil
			}
			env := newEnv(t, s)
			snap := task
			snap.TaskType = tc.taskType
			env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: task.ID, Snapshot: &snap, Parent: parent})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			if (ran.Artifact.ArtifactID != "") != tc.reserved {
				t.Fatalf("run step artifact %+v, reserved = %v", ran.Artifact, tc.reserved)
			}
			if ran.Artifact.Parent == nil || *ran.Artifact.Parent != *parent || ran.Artifact.Level() != 1 {
				t.Errorf("run step artifact place %+v, want under %+v at level 1", ran.Artifact, parent)
			}
			if persisted.Artifact.ArtifactID != ran.Artifact.ArtifactID || persisted.Artifact.Parent == nil {
				t.Errorf("persist step place %+v, run step %+v", persisted.Artifact, ran.Artifact)
			}
		})
	}
}

// A function job whose run step fails, or whose function ran out of time,
// cancels its live children; one that completes does not.
func TestExecuteTaskCancelsChildren(t *testing.T) {
	for _, end := range []string{"fails", "times out", "completes"} {
		fails := end != "completes"
		s := okSteps()
		s.run = func(context.Context, RunInput) (RunOutput, error) {
			switch end {
			case "fails":
				return RunOutput{}, temporal.NewNonRetryableApplicationError("boom", "Boom", nil)
			case "times out":
				return RunOutput{ArtifactID: "01STORED", TimedOut: true}, nil
			}
			return RunOutput{ArtifactID: "01STORED"}, nil
		}
		env := newEnv(t, s)
		var canceled []string
		env.RegisterActivityWithOptions(func(_ context.Context, in CancelChildrenInput) error {
			canceled = append(canceled, in.JobID)
			return nil
		}, activity.RegisterOptions{Name: CancelChildrenActivity})
		snap := task
		snap.TaskType = "python"
		env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: task.ID, Snapshot: &snap})
		if err := env.GetWorkflowError(); (err != nil) != fails {
			t.Fatalf("run step %s: workflow error %v", end, err)
		}
		if want := map[bool]int{true: 1, false: 0}[fails]; len(canceled) != want {
			t.Errorf("run step %s: children canceled for %v", end, canceled)
		}
	}
}

func TestReservedArtifactID(t *testing.T) {
	at := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	a, b := ReservedArtifactID("run-a", at), ReservedArtifactID("run-b", at)
	if a == b || a != ReservedArtifactID("run-a", at) || len(a) != 26 {
		t.Errorf("ids %s, %s: want distinct per run, stable per run, 26 characters", a, b)
	}
}
