package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chaptask/chaptask/db/dbtest"
)

// TestRunOverrides: $execute's body changes parameters and the timeout for
// one job; the snapshot in the artifact shows what ran and a rerun runs it
// again; the task stays as it was; bad bodies start nothing.
func TestRunOverrides(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			s := startService(t, newEnv(t, dialect))
			sum := s.createTask(t, map[string]any{"command": "calculate_sum", "task_type": "python", "parameters": map[string]any{"a": 10, "b": 32}})
			path := "/api/v1/tasks/" + sum + "/$execute"

			r := s.do(t, "POST", path, map[string]any{"parameters": map[string]any{"b": 1}})
			s.want(t, r, 202)
			j := s.waitStatus(t, r.object(t)["job_id"].(string), "completed")
			a := s.do(t, "GET", "/api/v1/artifacts/"+*j.ArtifactID, nil).object(t)["data"].(map[string]any)
			if a["result"].(map[string]any)["result"] != 11.0 {
				t.Errorf("calculate_sum(a=10, b=1 overridden) = %v", a["result"])
			}
			if params, _ := json.Marshal(a["task"].(map[string]any)["parameters"]); string(params) != `{"a":10,"b":1}` {
				t.Errorf("snapshot parameters = %s, want the merged ones", params)
			}
			// A rerun repeats what ran, overrides included.
			rerun := s.waitStatus(t, s.rerun(t, j.ID), "completed")
			ra := s.do(t, "GET", "/api/v1/artifacts/"+*rerun.ArtifactID, nil).object(t)["data"].(map[string]any)
			if ra["result"].(map[string]any)["result"] != 11.0 {
				t.Errorf("rerun of the overridden job: result %v, want 11", ra["result"])
			}
			task := s.do(t, "GET", "/api/v1/tasks/"+sum, nil).object(t)
			if params, _ := json.Marshal(task["parameters"]); string(params) != `{"a":10,"b":32}` {
				t.Errorf("the override changed the task: %s", params)
			}
			for _, body := range []any{nil, map[string]any{}} {
				r := s.do(t, "POST", path, body)
				s.want(t, r, 202)
				j := s.waitStatus(t, r.object(t)["job_id"].(string), "completed")
				a := s.do(t, "GET", "/api/v1/artifacts/"+*j.ArtifactID, nil).object(t)["data"].(map[string]any)
				if a["result"].(map[string]any)["result"] != 42.0 {
					t.Errorf("body %v: result %v, want the task's own 42", body, a["result"])
				}
			}

			sleeper := s.createTask(t, map[string]any{"command": "echo started; sleep 30"})
			r = s.do(t, "POST", "/api/v1/tasks/"+sleeper+"/$execute", map[string]any{"timeout_seconds": 1})
			s.want(t, r, 202)
			j = s.waitStatus(t, r.object(t)["job_id"].(string), "failed")
			if j.Error == nil || !strings.Contains(*j.Error, "timed out after 1s") || j.ArtifactID == nil {
				t.Errorf("timeout override: error %v, artifact %v", deref(j.Error), j.ArtifactID)
			}

			before := len(s.jobsOf(t, sum))
			for _, bad := range []any{
				map[string]any{"parameters": []int{1}},
				map[string]any{"timeout_seconds": 0},
				map[string]any{"timeout_seconds": "1"},
				map[string]any{"params": map[string]any{}},
				[]int{1},
			} {
				s.want(t, s.do(t, "POST", path, bad), 422)
			}
			if after := len(s.jobsOf(t, sum)); after != before {
				t.Errorf("rejected bodies started %d jobs", after-before)
			}
		})
	}
}

// jobsOf lists the task's jobs.
func (s *service) jobsOf(t *testing.T, taskID string) []job {
	t.Helper()
	var jobs []job
	s.do(t, "GET", "/api/v1/jobs?task_id="+taskID, nil).decode(t, &jobs)
	return jobs
}
