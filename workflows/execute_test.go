package workflows

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// steps are stand-in activities: the workflow's logic is tested here, the
// real steps in package activities and end to end.
type steps struct {
	snapshot func(SnapshotInput) (TaskSnapshot, error)
	run      func(context.Context, RunInput) (RunOutput, error)
	persist  func(PersistInput) (PersistOutput, error)
}

func newEnv(t *testing.T, s steps) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(ExecuteTask, workflow.RegisterOptions{Name: ExecuteTaskWorkflow})
	env.RegisterActivityWithOptions(func(_ context.Context, in SnapshotInput) (TaskSnapshot, error) { return s.snapshot(in) },
		activity.RegisterOptions{Name: SnapshotTaskActivity})
	env.RegisterActivityWithOptions(s.run, activity.RegisterOptions{Name: RunTaskActivity})
	env.RegisterActivityWithOptions(func(_ context.Context, in PersistInput) (PersistOutput, error) { return s.persist(in) },
		activity.RegisterOptions{Name: PersistArtifactActivity})
	return env
}

var task = TaskSnapshot{ID: "01TASK", Command: "echo hi", TaskType: "shell"}

func okSteps() steps {
	return steps{
		snapshot: func(SnapshotInput) (TaskSnapshot, error) { return task, nil },
		run: func(context.Context, RunInput) (RunOutput, error) {
			return RunOutput{Data: []byte(`{"stdout":"hi\n"}`)}, nil
		},
		persist: func(in PersistInput) (PersistOutput, error) { return PersistOutput{ArtifactID: "01ART"}, nil },
	}
}

func TestExecuteTaskCompletes(t *testing.T) {
	s := okSteps()
	var persisted PersistInput
	s.persist = func(in PersistInput) (PersistOutput, error) {
		persisted = in
		return PersistOutput{ArtifactID: "01ART"}, nil
	}
	env := newEnv(t, s)
	env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: task.ID})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res ExecuteResult
	if err := env.GetWorkflowResult(&res); err != nil || res.ArtifactID != "01ART" {
		t.Fatalf("result %+v, %v", res, err)
	}
	if persisted.TaskID != task.ID || string(persisted.Output.Data) != `{"stdout":"hi\n"}` {
		t.Errorf("persist input %+v", persisted)
	}
}

func TestExecuteTaskDeletedTaskFails(t *testing.T) {
	s := okSteps()
	ran := false
	s.snapshot = func(in SnapshotInput) (TaskSnapshot, error) {
		return TaskSnapshot{}, temporal.NewNonRetryableApplicationError("task "+in.TaskID+" was deleted before the job ran", ErrTypeTaskNotFound, nil)
	}
	s.run = func(context.Context, RunInput) (RunOutput, error) { ran = true; return RunOutput{}, nil }
	env := newEnv(t, s)
	env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: "01GONE"})
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "task 01GONE was deleted before the job ran") {
		t.Fatalf("error = %v", err)
	}
	if ran {
		t.Error("a deleted task ran")
	}
}

func TestExecuteTaskRunRetriesThenFails(t *testing.T) {
	s := okSteps()
	attempts := 0
	s.run = func(context.Context, RunInput) (RunOutput, error) {
		attempts++
		return RunOutput{}, errors.New("worker lost its disk")
	}
	env := newEnv(t, s)
	env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: task.ID})
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "worker lost its disk") {
		t.Fatalf("error = %v", err)
	}
	if attempts != runMaxAttempts {
		t.Errorf("run attempted %d times, want %d", attempts, runMaxAttempts)
	}
}

func TestExecuteTaskBadTaskIsNotRetried(t *testing.T) {
	s := okSteps()
	attempts := 0
	s.run = func(context.Context, RunInput) (RunOutput, error) {
		attempts++
		return RunOutput{}, temporal.NewNonRetryableApplicationError("unknown task_type", ErrTypeBadTask, nil)
	}
	env := newEnv(t, s)
	env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: task.ID})
	if env.GetWorkflowError() == nil || attempts != 1 {
		t.Fatalf("error %v after %d attempts", env.GetWorkflowError(), attempts)
	}
}

func TestExecuteTaskCanceledWhileRunning(t *testing.T) {
	s := okSteps()
	persisted := false
	s.run = func(ctx context.Context, _ RunInput) (RunOutput, error) {
		for {
			select {
			case <-ctx.Done():
				return RunOutput{}, ctx.Err()
			case <-time.After(10 * time.Millisecond):
				activity.RecordHeartbeat(ctx)
			}
		}
	}
	s.persist = func(PersistInput) (PersistOutput, error) { persisted = true; return PersistOutput{}, nil }
	env := newEnv(t, s)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Second)
	env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: task.ID})
	var canceled *temporal.CanceledError
	if err := env.GetWorkflowError(); !errors.As(err, &canceled) {
		t.Fatalf("error = %v, want canceled", err)
	}
	if persisted {
		t.Error("a canceled job persisted an artifact")
	}
}

func TestExecuteTaskProvidedSnapshotSkipsTheSnapshotStep(t *testing.T) {
	s := okSteps()
	s.snapshot = func(SnapshotInput) (TaskSnapshot, error) {
		t.Error("the snapshot step ran although the input carries a snapshot")
		return task, nil
	}
	given := TaskSnapshot{ID: "01TASK", Command: "echo as it was", TaskType: "shell", Enabled: true}
	var ran RunInput
	s.run = func(_ context.Context, in RunInput) (RunOutput, error) {
		ran = in
		return RunOutput{Data: []byte(`{}`)}, nil
	}
	var persisted PersistInput
	s.persist = func(in PersistInput) (PersistOutput, error) {
		persisted = in
		return PersistOutput{ArtifactID: "01ART"}, nil
	}
	env := newEnv(t, s)
	env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: given.ID, Snapshot: &given})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if ran.Task.Command != "echo as it was" || ran.Task.ID != given.ID {
		t.Errorf("run step got %+v, want the provided snapshot", ran.Task)
	}
	if persisted.TaskID != given.ID {
		t.Errorf("persisted for task %q", persisted.TaskID)
	}
}
