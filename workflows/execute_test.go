package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
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

// A run step that stored the artifact leaves nothing to persist, and a
// submitted snapshot leaves nothing to read.
func TestExecuteTaskStoredByRunStep(t *testing.T) {
	s := okSteps()
	s.snapshot = func(SnapshotInput) (TaskSnapshot, error) {
		t.Error("snapshot step ran although the input brought the snapshot")
		return task, nil
	}
	var ran RunInput
	s.run = func(_ context.Context, in RunInput) (RunOutput, error) {
		ran = in
		return RunOutput{ArtifactID: "01STORED"}, nil
	}
	s.persist = func(PersistInput) (PersistOutput, error) {
		t.Error("persist step ran although the run step stored the artifact")
		return PersistOutput{ArtifactID: "01ART"}, nil
	}
	env := newEnv(t, s)
	submitted := task
	submitted.Command = "echo submitted"
	env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: task.ID, Snapshot: &submitted})
	var res ExecuteResult
	if err := env.GetWorkflowResult(&res); err != nil || res.ArtifactID != "01STORED" {
		t.Fatalf("result %+v, %v", res, err)
	}
	if ran.Task.Command != "echo submitted" {
		t.Errorf("ran %q, want the submitted snapshot", ran.Task.Command)
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
	if attempts != DefaultRetryPolicy().MaxAttempts {
		t.Errorf("run attempted %d times, want %d", attempts, DefaultRetryPolicy().MaxAttempts)
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
	attempts := 0
	s.run = func(ctx context.Context, _ RunInput) (RunOutput, error) {
		attempts++
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
	if attempts != 1 {
		t.Errorf("a canceled run was attempted %d times", attempts)
	}
}

// recordRunOptions is a workflow interceptor that keeps the activity
// options the run step is scheduled with.
type recordRunOptions struct {
	interceptor.WorkerInterceptorBase
	got *workflow.ActivityOptions
}

func (r *recordRunOptions) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &recordRunInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, got: r.got}
}

type recordRunInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	got *workflow.ActivityOptions
}

func (r *recordRunInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return r.Next.Init(&recordRunOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, got: r.got})
}

type recordRunOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	got *workflow.ActivityOptions
}

func (r *recordRunOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	if activityType == RunTaskActivity {
		*r.got = workflow.GetActivityOptions(ctx)
	}
	return r.Next.ExecuteActivity(ctx, activityType, args...)
}

func ptr[T any](v T) *T { return &v }

// TestRunStepOptionsFollowTheTask checks the options the workflow really
// schedules the run step with, for tasks with and without limits.
func TestRunStepOptionsFollowTheTask(t *testing.T) {
	cases := []struct {
		name             string
		timeout          *int64
		policy           *RetryPolicy
		wantPolicy       temporal.RetryPolicy
		wantStartToClose time.Duration
	}{
		{"no limits: today's policy", nil, nil,
			temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 5}, 24 * time.Hour},
		{"the task's policy", ptr[int64](60), &RetryPolicy{MaxAttempts: 1, InitialIntervalSeconds: 0.5, BackoffCoefficient: 1.5, MaximumIntervalSeconds: 4},
			temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 1.5, MaximumInterval: 4 * time.Second, MaximumAttempts: 1}, 24 * time.Hour},
		{"a timeout beyond a day extends Temporal's limit", ptr[int64](MaxTimeoutSeconds), nil,
			temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 5}, 7*24*time.Hour + runTimeoutMargin},
		{"a corrupt stored policy is clamped, never retry-forever", nil, &RetryPolicy{MaxAttempts: 0, InitialIntervalSeconds: -1, BackoffCoefficient: 0, MaximumIntervalSeconds: 1e300},
			temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 1, MaximumInterval: maxRetryInterval, MaximumAttempts: 1}, 24 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := okSteps()
			snap := task
			snap.TimeoutSeconds, snap.RetryPolicy = tc.timeout, tc.policy
			s.snapshot = func(SnapshotInput) (TaskSnapshot, error) { return snap, nil }
			var got workflow.ActivityOptions
			env := newEnv(t, s)
			env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&recordRunOptions{got: &got}}})
			env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: task.ID})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			want := tc.wantPolicy
			want.NonRetryableErrorTypes = []string{ErrTypeBadTask}
			if got.RetryPolicy == nil || !reflect.DeepEqual(*got.RetryPolicy, want) {
				t.Errorf("retry policy %+v, want %+v", got.RetryPolicy, want)
			}
			if got.StartToCloseTimeout != tc.wantStartToClose || got.HeartbeatTimeout != runHeartbeatTimeout || !got.WaitForCancellation {
				t.Errorf("options %+v", got)
			}
		})
	}
}

func TestExecuteTaskRetriesAsTheTaskSays(t *testing.T) {
	for _, attempts := range []int{1, 3} {
		s := okSteps()
		snap := task
		snap.RetryPolicy = &RetryPolicy{MaxAttempts: attempts, InitialIntervalSeconds: 0.1, BackoffCoefficient: 1, MaximumIntervalSeconds: 0.1}
		s.snapshot = func(SnapshotInput) (TaskSnapshot, error) { return snap, nil }
		ran := 0
		s.run = func(context.Context, RunInput) (RunOutput, error) {
			ran++
			return RunOutput{}, errors.New("worker lost its disk")
		}
		env := newEnv(t, s)
		env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: task.ID})
		if env.GetWorkflowError() == nil || ran != attempts {
			t.Errorf("max_attempts %d: ran %d times, error %v", attempts, ran, env.GetWorkflowError())
		}
	}
}

func TestExecuteTaskTimedOutStoresOutputThenFails(t *testing.T) {
	s := okSteps()
	snap := task
	snap.TimeoutSeconds = ptr[int64](1)
	snap.RetryPolicy = &RetryPolicy{MaxAttempts: 5, InitialIntervalSeconds: 1, BackoffCoefficient: 2, MaximumIntervalSeconds: 30}
	s.snapshot = func(SnapshotInput) (TaskSnapshot, error) { return snap, nil }
	ran := 0
	s.run = func(context.Context, RunInput) (RunOutput, error) {
		ran++
		return RunOutput{Data: []byte(`{"stdout":"started\n","timed_out":true}`), TimedOut: true}, nil
	}
	var persisted PersistInput
	s.persist = func(in PersistInput) (PersistOutput, error) {
		persisted = in
		return PersistOutput{ArtifactID: "01PARTIAL"}, nil
	}
	env := newEnv(t, s)
	env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: task.ID})
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "run task 01TASK: timed out after 1s (partial output in artifact 01PARTIAL)") {
		t.Fatalf("error = %v", err)
	}
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != jobFailedType {
		t.Errorf("error type: %v", err)
	}
	if cause := errors.Unwrap(appErr); !errors.As(cause, &appErr) || appErr.Type() != ErrTypeTimeout {
		t.Errorf("cause = %v, want a %s error", cause, ErrTypeTimeout)
	}
	if ran != 1 {
		t.Errorf("a timed-out run was attempted %d times", ran)
	}
	if !persisted.Output.TimedOut || string(persisted.Output.Data) != `{"stdout":"started\n","timed_out":true}` {
		t.Errorf("persisted %+v", persisted)
	}
}

func TestExecuteTaskScheduledRunSkipsDisabledTask(t *testing.T) {
	for _, tc := range []struct {
		name       string
		scheduleID string
		wantRun    bool
	}{
		{"scheduled", "01SCHED", false},
		{"manual", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := okSteps()
			disabled := task
			disabled.Enabled = false
			s.snapshot = func(SnapshotInput) (TaskSnapshot, error) { return disabled, nil }
			ran := false
			s.run = func(context.Context, RunInput) (RunOutput, error) {
				ran = true
				return RunOutput{Data: []byte(`{}`)}, nil
			}
			env := newEnv(t, s)
			env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: task.ID, ScheduleID: tc.scheduleID})
			err := env.GetWorkflowError()
			if ran != tc.wantRun {
				t.Fatalf("ran = %v, want %v (error %v)", ran, tc.wantRun, err)
			}
			if !tc.wantRun && (err == nil || !strings.Contains(err.Error(), "task 01TASK is disabled: schedule 01SCHED did not run it")) {
				t.Errorf("error = %v", err)
			}
		})
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

func TestWithOverrides(t *testing.T) {
	ten := int64(10)
	one := int64(1)
	base := TaskSnapshot{ID: "t", Parameters: json.RawMessage(`{"b": 32, "a": 10}`), TimeoutSeconds: &ten}
	for _, tc := range []struct {
		name    string
		task    TaskSnapshot
		o       RunOverrides
		params  string
		timeout int64
	}{
		{"merge", base, RunOverrides{Parameters: json.RawMessage(`{"b": 1, "c": [1]}`)}, `{"a":10,"b":1,"c":[1]}`, 10},
		{"timeout only", base, RunOverrides{TimeoutSeconds: &one}, `{"b": 32, "a": 10}`, 1},
		{"task without parameters", TaskSnapshot{}, RunOverrides{Parameters: json.RawMessage(`{"x": true}`)}, `{"x":true}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.task.WithOverrides(tc.o)
			if string(got.Parameters) != tc.params {
				t.Errorf("parameters = %s, want %s", got.Parameters, tc.params)
			}
			if tc.timeout != 0 && (got.TimeoutSeconds == nil || *got.TimeoutSeconds != tc.timeout) {
				t.Errorf("timeout = %v, want %d", got.TimeoutSeconds, tc.timeout)
			}
		})
	}
	if *base.TimeoutSeconds != 10 || string(base.Parameters) != `{"b": 32, "a": 10}` {
		t.Error("WithOverrides changed the task it was called on")
	}
}

// A database outage outlasting the 30 s after which the database steps of
// earlier versions gave up loses nothing: the snapshot step and the persist
// step keep trying until the database is back, and the persist step stores
// the end of the live output the run step could not. (The test environment
// caps retries at 10 attempts; the server does not: see
// TestPersistStepRetriesForTheJobsLifetime.)
func TestExecuteTaskOutlastsADatabaseOutage(t *testing.T) {
	const outage = 40 * time.Second
	var env *testsuite.TestWorkflowEnvironment
	var began time.Time
	down := func() bool { return env.Now().Sub(began) < outage }
	s := okSteps()
	s.snapshot = func(SnapshotInput) (TaskSnapshot, error) {
		if down() {
			return TaskSnapshot{}, errors.New("dial tcp: connection refused")
		}
		return task, nil
	}
	tail := []LogChunk{{Offset: 3, Stream: "stdout", Data: "end\n"}}
	s.run = func(context.Context, RunInput) (RunOutput, error) {
		began = env.Now() // the outage begins as the command ends
		return RunOutput{Data: []byte(`{"stdout":"hi\nend\n"}`), Log: tail}, nil
	}
	var persisted PersistInput
	s.persist = func(in PersistInput) (PersistOutput, error) {
		if down() {
			return PersistOutput{}, errors.New("dial tcp: connection refused")
		}
		persisted = in
		return PersistOutput{ArtifactID: "01ART"}, nil
	}
	env = newEnv(t, s)
	began = env.Now()
	env.ExecuteWorkflow(ExecuteTaskWorkflow, ExecuteInput{TaskID: task.ID})
	var res ExecuteResult
	if err := env.GetWorkflowResult(&res); err != nil || res.ArtifactID != "01ART" {
		t.Fatalf("result %+v, %v", res, err)
	}
	if !reflect.DeepEqual(persisted.Output.Log, tail) {
		t.Errorf("persist step got log %+v, want %+v", persisted.Output.Log, tail)
	}
}

// The persist step has no schedule-to-close bound and no attempt limit,
// so the server retries it for as long as the job lives, at most
// DatabaseRetryInterval apart.
func TestPersistStepRetriesForTheJobsLifetime(t *testing.T) {
	o := persistOptions()
	if o.ScheduleToCloseTimeout != 0 || o.RetryPolicy == nil || o.RetryPolicy.MaximumAttempts != 0 ||
		o.RetryPolicy.MaximumInterval != DatabaseRetryInterval {
		t.Errorf("persist options %+v, retry policy %+v", o, o.RetryPolicy)
	}
}
