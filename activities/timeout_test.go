package activities

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/chaptask/chaptask/registry"
	"github.com/chaptask/chaptask/workflows"
)

// runTask runs RunTask in Temporal's activity test environment.
func runTask(t *testing.T, a *Activities, task workflows.TaskSnapshot) workflows.RunOutput {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(a.RunTask, activity.RegisterOptions{Name: workflows.RunTaskActivity})
	val, err := env.ExecuteActivity(workflows.RunTaskActivity, workflows.RunInput{JobID: "01JOB", Task: task})
	if err != nil {
		t.Fatalf("RunTask: %v", err)
	}
	var out workflows.RunOutput
	if err := val.Get(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func oneSecond() *int64 {
	n := int64(1)
	return &n
}

func TestRunTaskShellTimeoutKeepsPartialOutput(t *testing.T) {
	pidPath := t.TempDir() + "/pid"
	task := workflows.TaskSnapshot{
		ID: "01TASK", TaskType: "shell", TimeoutSeconds: oneSecond(),
		Command: "echo started; echo warming >&2; sleep 30 & echo $! > " + pidPath + "; wait",
	}
	a := &Activities{ShellEnv: ShellEnv(os.Getenv), KillGrace: 500 * time.Millisecond}
	out := runTask(t, a, task)
	if !out.TimedOut {
		t.Fatalf("output not marked timed out: %+v", out)
	}
	var data struct {
		Task     workflows.TaskSnapshot
		Stdout   string
		Stderr   string
		ExitCode int  `json:"exit_code"`
		TimedOut bool `json:"timed_out"`
		Error    *registry.Error
	}
	if err := json.Unmarshal(out.Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.Stdout != "started\n" || data.Stderr != "warming\n" || !data.TimedOut || data.ExitCode >= 0 {
		t.Errorf("artifact data %s", out.Data)
	}
	if data.Error == nil || data.Error.Type != workflows.ErrTypeTimeout || data.Error.Message != "timed out after 1s" {
		t.Errorf("error = %+v", data.Error)
	}
	if data.Task.TimeoutSeconds == nil || *data.Task.TimeoutSeconds != 1 {
		t.Errorf("snapshot lost timeout_seconds: %s", out.Data)
	}
	raw, _ := os.ReadFile(pidPath)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	if pid == 0 {
		t.Fatal("no pid written")
	}
	waitDead(t, pid)
}

func TestRunTaskShellWithinTimeoutIsUnchanged(t *testing.T) {
	task := workflows.TaskSnapshot{ID: "01TASK", TaskType: "shell", TimeoutSeconds: oneSecond(), Command: "echo fast; exit 3"}
	out := runTask(t, &Activities{ShellEnv: ShellEnv(os.Getenv)}, task)
	if out.TimedOut || strings.Contains(string(out.Data), "timed_out") || strings.Contains(string(out.Data), `"error"`) {
		t.Errorf("a run within its timeout: %s", out.Data)
	}
	if !strings.Contains(string(out.Data), `"stdout":"fast\n","stderr":"","exit_code":3`) {
		t.Errorf("data %s", out.Data)
	}
}

func TestRunTaskFunctionTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	reg := registry.New()
	// One function honours its context, one ignores it; both time out.
	if err := reg.Register("polite", func(ctx context.Context) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register("stubborn", func() (string, error) {
		<-release
		return "too late", nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register("quick", func(ctx context.Context) (string, error) {
		if _, ok := ctx.Deadline(); !ok {
			return "", registry.NewError("ValueError", "no deadline")
		}
		return "done", nil
	}); err != nil {
		t.Fatal(err)
	}
	a := &Activities{Registry: reg, KillGrace: 200 * time.Millisecond}
	for _, name := range []string{"polite", "stubborn"} {
		t.Run(name, func(t *testing.T) {
			out := runTask(t, a, workflows.TaskSnapshot{ID: "01TASK", TaskType: "go", Command: name, TimeoutSeconds: oneSecond()})
			var data functionArtifact
			if err := json.Unmarshal(out.Data, &data); err != nil {
				t.Fatal(err)
			}
			if !out.TimedOut || !data.TimedOut || string(data.Result) != "null" ||
				data.Error == nil || data.Error.Type != workflows.ErrTypeTimeout || data.Error.Message != "timed out after 1s" {
				t.Errorf("output %+v, data %s", out, out.Data)
			}
		})
	}
	t.Run("within the timeout the function sees the deadline", func(t *testing.T) {
		out := runTask(t, a, workflows.TaskSnapshot{ID: "01TASK", TaskType: "go", Command: "quick", TimeoutSeconds: oneSecond()})
		if out.TimedOut || !strings.Contains(string(out.Data), `"result":"done","error":null`) || strings.Contains(string(out.Data), "timed_out\":") {
			t.Errorf("data %s", out.Data)
		}
	})
}
