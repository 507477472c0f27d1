package activities_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/chaptask/chaptask/activities"
	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/metrics"
	"github.com/chaptask/chaptask/workflows"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// finished reads chaptask_jobs_finished_total{task_type, status} from reg.
func finished(t *testing.T, reg *prometheus.Registry, taskType, status string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "chaptask_jobs_finished_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["task_type"] == taskType && labels["status"] == status {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestOutcomesCounted runs the steps in Temporal's activity test
// environment on a real database and checks which outcomes they count and
// what they log.
func TestOutcomesCounted(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		reg := prometheus.NewRegistry()
		m, err := metrics.New(reg)
		if err != nil {
			t.Fatal(err)
		}
		logs := &syncBuffer{}
		a := &activities.Activities{DB: bdb, Metrics: m, Logger: slog.New(slog.NewJSONHandler(logs, nil))}
		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestActivityEnvironment()
		env.RegisterActivityWithOptions(a.SnapshotTask, activity.RegisterOptions{Name: workflows.SnapshotTaskActivity})
		env.RegisterActivityWithOptions(a.RunTask, activity.RegisterOptions{Name: workflows.RunTaskActivity})
		env.RegisterActivityWithOptions(a.PersistArtifact, activity.RegisterOptions{Name: workflows.PersistArtifactActivity})

		t.Run("task deleted before the job ran", func(t *testing.T) {
			if _, err := env.ExecuteActivity(workflows.SnapshotTaskActivity, workflows.SnapshotInput{TaskID: db.NewID()}); err == nil {
				t.Fatal("snapshot of a missing task succeeded")
			}
			if got := finished(t, reg, "other", "failed"); got != 1 {
				t.Errorf("failed{other} = %v, want 1", got)
			}
		})

		t.Run("completed once however often persisted", func(t *testing.T) {
			jobID, taskID := db.NewID(), db.NewID()
			started := time.Now().UTC()
			in := workflows.PersistInput{JobID: jobID, TaskID: taskID, TaskType: "go", Output: workflows.RunOutput{
				StartedAt: started, FinishedAt: started.Add(1500 * time.Millisecond), Data: json.RawMessage(`{"result":1}`),
			}}
			for range 2 {
				if _, err := env.ExecuteActivity(workflows.PersistArtifactActivity, in); err != nil {
					t.Fatal(err)
				}
			}
			if got := finished(t, reg, "go", "completed"); got != 1 {
				t.Errorf("completed{go} = %v, want 1", got)
			}
		})

		t.Run("run step stores the artifact once", func(t *testing.T) {
			jobID, taskID := db.NewID(), db.NewID()
			in := workflows.RunInput{JobID: jobID, Task: workflows.TaskSnapshot{ID: taskID, Command: "echo stored", TaskType: "shell"}}
			val, err := env.ExecuteActivity(workflows.RunTaskActivity, in)
			if err != nil {
				t.Fatal(err)
			}
			var out workflows.RunOutput
			if err := val.Get(&out); err != nil {
				t.Fatal(err)
			}
			if out.ArtifactID == "" || out.Data != nil || out.Staged {
				t.Fatalf("run output %+v: want the stored artifact's id and no data", out)
			}
			art, err := db.GetArtifact(t.Context(), bdb, out.ArtifactID)
			if err != nil {
				t.Fatal(err)
			}
			var data struct{ Stdout string }
			if err := json.Unmarshal(art.Data, &data); err != nil || data.Stdout != "stored\n" {
				t.Errorf("artifact data %s (%v)", art.Data, err)
			}
			// A workflow of an older version persists once more: same artifact, counted once.
			val, err = env.ExecuteActivity(workflows.PersistArtifactActivity, workflows.PersistInput{JobID: jobID, TaskID: taskID, TaskType: "shell", Output: workflows.RunOutput{Data: json.RawMessage(`{}`)}})
			if err != nil {
				t.Fatal(err)
			}
			var saved workflows.PersistOutput
			if err := val.Get(&saved); err != nil || saved.ArtifactID != out.ArtifactID {
				t.Errorf("persist step stored %q (%v), want the run step's %s", saved.ArtifactID, err, out.ArtifactID)
			}
			if got := finished(t, reg, "shell", "completed"); got != 1 {
				t.Errorf("completed{shell} = %v, want 1", got)
			}
		})

		t.Run("invalid task type fails the job", func(t *testing.T) {
			jobID, taskID := db.NewID(), db.NewID()
			in := workflows.RunInput{JobID: jobID, Task: workflows.TaskSnapshot{ID: taskID, Command: "x", TaskType: "cobol"}}
			if _, err := env.ExecuteActivity(workflows.RunTaskActivity, in); err == nil {
				t.Fatal("a task of unknown type ran")
			}
			if got := finished(t, reg, "other", "failed"); got != 2 {
				t.Errorf("failed{other} = %v, want 2 (the deleted task and this one)", got)
			}
			var line map[string]any
			for _, raw := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var rec map[string]any
				if json.Unmarshal([]byte(raw), &rec) == nil && strings.Contains(rec["msg"].(string), "will not be retried") {
					line = rec
				}
			}
			if line == nil || line["job_id"] != jobID || line["task_id"] != taskID {
				t.Errorf("failure log %v lacks job_id %s and task_id %s; logs:\n%s", line, jobID, taskID, logs)
			}
		})
	})
}
