package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// TestRunLocallyMakesAShellRunStepLocal checks which jobs run their step as
// a local activity: shell tasks started with RunLocally whose step is
// bounded by the usual 24 h, and no others.
func TestRunLocallyMakesAShellRunStepLocal(t *testing.T) {
	function := TaskSnapshot{ID: "01FUNC", TaskType: "go", Command: "calculate_sum"}
	dayLong := task
	dayLong.TimeoutSeconds = ptr(int64(30 * 3600))
	for _, tc := range []struct {
		name      string
		in        ExecuteInput
		wantLocal bool
	}{
		{"shell, RunLocally", ExecuteInput{TaskID: task.ID, Snapshot: &task, RunLocally: true}, true},
		{"shell, inputs written before RunLocally", ExecuteInput{TaskID: task.ID, Snapshot: &task}, false},
		{"function, RunLocally", ExecuteInput{TaskID: function.ID, Snapshot: &function, RunLocally: true}, false},
		// Past the run step's 24 h limit a workflow task could not be
		// heartbeated for the whole run.
		{"shell with a 30 h timeout, RunLocally", ExecuteInput{TaskID: dayLong.ID, Snapshot: &dayLong, RunLocally: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := okSteps()
			var local []bool
			s.run = func(ctx context.Context, _ RunInput) (RunOutput, error) {
				local = append(local, activity.GetInfo(ctx).IsLocalActivity)
				return RunOutput{ArtifactID: "01ART"}, nil
			}
			env := newEnv(t, s)
			env.ExecuteWorkflow(ExecuteTaskWorkflow, tc.in)
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			var res ExecuteResult
			if err := env.GetWorkflowResult(&res); err != nil || res.ArtifactID != "01ART" {
				t.Fatalf("result %+v, %v; want artifact 01ART", res, err)
			}
			if len(local) != 1 || local[0] != tc.wantLocal {
				t.Errorf("run step attempts (true = local) %v, want [%v]", local, tc.wantLocal)
			}
		})
	}
}

// TestLocalRunRetriesAsTheTaskSays: the task's retry policy applies to a
// local run step as to the activity.
func TestLocalRunRetriesAsTheTaskSays(t *testing.T) {
	s := okSteps()
	attempts := 0
	s.run = func(context.Context, RunInput) (RunOutput, error) {
		attempts++
		if attempts < 3 {
			return RunOutput{}, errors.New("worker hiccup")
		}
		return RunOutput{ArtifactID: "01ART"}, nil
	}
	env := newEnv(t, s)
	env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: task.ID, Snapshot: &task, RunLocally: true})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if attempts != 3 {
		t.Errorf("%d attempts, want 3", attempts)
	}
}

// TestLocalRunCanceledHere: a local run step stopped by a cancel through
// the worker's own API ends the job canceled once Temporal's request
// arrives, and failed if it never does.
func TestLocalRunCanceledHere(t *testing.T) {
	stopped := func(context.Context, RunInput) (RunOutput, error) {
		return RunOutput{}, temporal.NewNonRetryableApplicationError(ErrCanceledHere.Error(), ErrTypeCanceledHere, nil)
	}
	t.Run("request arrives", func(t *testing.T) {
		s := okSteps()
		s.run = stopped
		persisted := false
		s.persist = func(PersistInput) (PersistOutput, error) { persisted = true; return PersistOutput{}, nil }
		env := newEnv(t, s)
		env.RegisterDelayedCallback(env.CancelWorkflow, time.Second)
		env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: task.ID, Snapshot: &task, RunLocally: true})
		var canceled *temporal.CanceledError
		if err := env.GetWorkflowError(); !errors.As(err, &canceled) {
			t.Fatalf("error = %v, want canceled", err)
		}
		if persisted {
			t.Error("a canceled job persisted an artifact")
		}
	})
	t.Run("request lost", func(t *testing.T) {
		s := okSteps()
		s.run = stopped
		env := newEnv(t, s)
		env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: task.ID, Snapshot: &task, RunLocally: true})
		var appErr *temporal.ApplicationError
		if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != jobFailedType {
			t.Fatalf("error = %v, want the job failed", err)
		}
	})
}
