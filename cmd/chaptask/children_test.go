package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/internal/testclient"
)

// TestChildJobs runs the example fan_out_sum on both databases: 20
// calculate_sum child jobs whose artifacts sit under the parent's in $tree,
// a failing child whose error the parent reports, and a canceled parent
// whose live children end canceled with their processes gone.
func TestChildJobs(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := newEnv(t, dialect)
			env["CHAPTASK_MAX_CONCURRENCY"] = "8"
			s := startService(t, env)
			t.Run("fan-out", func(t *testing.T) { testFanOut(t, s) })
			t.Run("failing child", func(t *testing.T) { testFailingChild(t, s) })
			t.Run("cancel parent from the API", func(t *testing.T) { testCancelParent(t, s, false) })
			t.Run("cancel parent from Temporal", func(t *testing.T) { testCancelParent(t, s, true) })
			t.Run("stream children", func(t *testing.T) { testStreamChildren(t, s) })
		})
	}
}

// treeNode is an artifact in a $tree answer.
type treeNode struct {
	ID         string         `json:"id"`
	ParentID   *string        `json:"parent_id"`
	Level      int            `json:"level"`
	LevelLabel *string        `json:"level_label"`
	Data       map[string]any `json:"data"`
	Children   []treeNode     `json:"children"`
}

// childJob is what the tests read of a child job's record.
type childJob struct {
	job
	ParentJobID *string `json:"parent_job_id"`
}

func (s *service) children(t *testing.T, parentJobID string) []childJob {
	t.Helper()
	var list []childJob
	r := s.do(t, "GET", "/api/v1/jobs?parent_job_id="+parentJobID, nil)
	s.want(t, r, 200)
	r.decode(t, &list)
	return list
}

func testFanOut(t *testing.T, s *service) {
	// The seeded example: 1..40 in 20 pairs.
	data := s.runTask(t, "01JCSEED0000000000000PYTH9")
	result := data["result"].(map[string]any)
	if result["result"] != 820.0 || data["error"] != nil {
		t.Fatalf("fan_out_sum(1..40) = %v, error %v; want 820", result["result"], data["error"])
	}
	childIDs := result["child_jobs"].([]any)
	if len(childIDs) != 20 {
		t.Fatalf("%d child jobs in the result, want 20", len(childIDs))
	}
	parents := s.jobsOf(t, "01JCSEED0000000000000PYTH9")
	parent := parents[0]
	if parent.ArtifactID == nil {
		t.Fatalf("parent job %s has no artifact", parent.ID)
	}
	s.recordHistory(t, parent.ID, "completed_fan_out_parent.json")
	s.recordHistory(t, childIDs[0].(string), "completed_child_function.json")

	var listed []childJob
	testclient.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool {
		listed = s.children(t, parent.ID)
		return len(listed) == 20
	}, func() string { return fmt.Sprintf("%d children listed, want 20", len(listed)) })
	for _, c := range listed {
		if c.Status != "completed" || c.ParentJobID == nil || *c.ParentJobID != parent.ID || c.TaskID != fanOutSumTaskID {
			t.Errorf("child %s: status %s, parent %v, task %s", c.ID, c.Status, deref(c.ParentJobID), c.TaskID)
		}
		if !slices.Contains(childIDs, any(c.ID)) {
			t.Errorf("listed child %s is not in the result's child_jobs", c.ID)
		}
	}
	for _, bad := range []string{"nope", "01JCSEED0000000000000PYTH9x", "'%20OR%20'1'='1"} {
		r := s.do(t, "GET", "/api/v1/jobs?parent_job_id="+bad, nil)
		s.want(t, r, 422)
	}
	if none := s.children(t, "01JCSEED0000000000000PYTH9"); len(none) != 0 {
		t.Errorf("a job without children lists %d", len(none))
	}
	var own childJob
	s.do(t, "GET", "/api/v1/jobs/"+parent.ID, nil).decode(t, &own)
	if own.ParentJobID != nil {
		t.Errorf("the parent has parent_job_id %s", *own.ParentJobID)
	}

	var tree treeNode
	r := s.do(t, "GET", "/api/v1/artifacts/"+*parent.ArtifactID+"/$tree", nil)
	s.want(t, r, 200)
	r.decode(t, &tree)
	if tree.Level != 0 || deref(tree.LevelLabel) != "execution" || len(tree.Children) != 20 {
		t.Fatalf("$tree: level %d %q, %d children, want level 0 execution with 20", tree.Level, deref(tree.LevelLabel), len(tree.Children))
	}
	sum := 0.0
	for _, c := range tree.Children {
		if c.Level != 1 || deref(c.LevelLabel) != "child" || deref(c.ParentID) != tree.ID || c.Children == nil || len(c.Children) != 0 {
			t.Errorf("child artifact %s: level %d %q, parent %s, children %v", c.ID, c.Level, deref(c.LevelLabel), deref(c.ParentID), c.Children)
		}
		sum += c.Data["result"].(map[string]any)["result"].(float64)
	}
	if sum != 820 {
		t.Errorf("child artifacts add up to %v, want 820", sum)
	}
}

func testFailingChild(t *testing.T, s *service) {
	failing := s.createTask(t, map[string]any{"command": "failing_task", "task_type": "python"})
	fan := s.createTask(t, map[string]any{"command": "fan_out_sum", "task_type": "python",
		"parameters": map[string]any{"numbers": []int{1, 2, 3, 4}, "sum_task_id": failing}})
	data := s.runTask(t, fan)
	e, _ := data["error"].(map[string]any)
	// failing_task takes no a and b: each child fails with a TypeError,
	// which the parent reports as its own, naming the child.
	if e == nil || e["type"] != "TypeError" || !strings.Contains(e["message"].(string), "child job") {
		t.Fatalf("fan_out_sum over a failing task: error %v, want the child's TypeError", data["error"])
	}
}

// testCancelParent cancels a parent whose three children run shell
// commands, from the API or as tctl and the Temporal Web UI do.
func testCancelParent(t *testing.T, s *service, viaTemporal bool) {
	path := t.TempDir() + "/pids"
	sleeper := s.createTask(t, map[string]any{"command": "echo $$ >> " + path + "; sleep 300 & sleep 300"})
	fan := s.createTask(t, map[string]any{"command": "fan_out_sum", "task_type": "python",
		"parameters": map[string]any{"numbers": []int{1, 2, 3, 4, 5, 6}, "sum_task_id": sleeper}})
	parentID := s.execute(t, fan)
	var pgids []int
	testclient.Eventually(t, 60*time.Second, 20*time.Millisecond, func() bool {
		raw, _ := os.ReadFile(path)
		pgids = pgids[:0]
		for _, line := range strings.Fields(string(raw)) {
			if n, err := strconv.Atoi(line); err == nil {
				pgids = append(pgids, n)
			}
		}
		return len(pgids) == 3
	}, func() string { return fmt.Sprintf("%d of 3 children started their command", len(pgids)) })

	if viaTemporal {
		if err := s.temporalClient(t).CancelWorkflow(context.Background(), parentID, ""); err != nil {
			t.Fatal(err)
		}
	} else {
		s.want(t, s.do(t, "DELETE", "/api/v1/jobs/"+parentID, nil), 204)
	}
	if p := s.waitStatus(t, parentID, "canceled", "completed", "failed"); p.Status != "canceled" {
		t.Fatalf("parent ended %s, want canceled", p.Status)
	}
	children := s.children(t, parentID)
	if len(children) != 3 {
		t.Fatalf("%d children listed, want 3", len(children))
	}
	for _, c := range children {
		if j := s.waitStatus(t, c.ID, "canceled", "completed", "failed"); j.Status != "canceled" {
			t.Errorf("child %s ended %s, want canceled", c.ID, j.Status)
		}
	}
	for _, pgid := range pgids {
		waitGroupGone(t, pgid, 5*time.Second)
	}
	if !viaTemporal {
		s.recordHistory(t, parentID, "canceled_parent_with_children.json")
	}
}

// ?events=status,children streams each child's status changes before the
// parent's terminal status; the default stream has no child events.
func testStreamChildren(t *testing.T, s *service) {
	fan := s.createTask(t, map[string]any{"command": "fan_out_sum", "task_type": "python",
		"parameters": map[string]any{"numbers": []int{1, 2, 3, 4, 5, 6}}})
	parentID := s.execute(t, fan)
	events := readEvents(t, s.base+"/api/v1/jobs/"+parentID+"/$stream?events=status,children", nil)
	completed := map[string]bool{}
	for i, ev := range events {
		var j childJob
		if err := json.Unmarshal([]byte(ev.data), &j); err != nil {
			t.Fatalf("event %d %q: %v", i, ev.data, err)
		}
		switch ev.name {
		case "child":
			if deref(j.ParentJobID) != parentID {
				t.Errorf("child event of %s names parent %s", j.ID, deref(j.ParentJobID))
			}
			if j.Status == "completed" {
				completed[j.ID] = true
			}
		case "":
			if j.ID != parentID {
				t.Errorf("status event of job %s", j.ID)
			}
		default:
			t.Errorf("unexpected event %q", ev.name)
		}
	}
	if len(events) == 0 || events[len(events)-1].name != "" || !strings.Contains(events[len(events)-1].data, `"status":"completed"`) {
		t.Fatalf("the stream does not end with the parent's completed status: %v", events)
	}
	if len(completed) != 3 {
		t.Errorf("%d children streamed as completed, want 3", len(completed))
	}
	for _, ev := range readEvents(t, s.base+"/api/v1/jobs/"+parentID+"/$stream", nil) {
		if ev.name != "" {
			t.Errorf("default stream has a %q event", ev.name)
		}
	}
}

// TestParentsOnEverySlot runs more fan_out_sum parents at once than the
// worker has slots: a parent lends its slot while it waits for its
// children, so they run and every parent completes (with each parent
// holding its slot, none of the 60 children would ever start). The slot
// logic is the same on both databases; SQLite keeps the test light.
func TestParentsOnEverySlot(t *testing.T) {
	env := newEnv(t, "sqlite")
	env["CHAPTASK_MAX_CONCURRENCY"] = "2"
	s := startService(t, env)
	ids := make([]string, 3)
	for i := range ids {
		ids[i] = s.execute(t, "01JCSEED0000000000000PYTH9")
	}
	for _, id := range ids {
		if j := s.waitStatus(t, id, "completed", "failed", "canceled"); j.Status != "completed" {
			t.Errorf("parent %s ended %s (error %v), want completed", id, j.Status, deref(j.Error))
		}
		var n int
		testclient.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool {
			n = len(s.children(t, id))
			return n == 20
		}, func() string { return fmt.Sprintf("parent %s: %d children listed, want 20", id, n) })
	}
}
