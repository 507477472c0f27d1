package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/internal/testclient"
	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/workflows"
)

// TestJobOperations drives idempotent submits, bulk cancel and rerun through
// the real service and its embedded Temporal server, on each database.
func TestJobOperations(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := newEnv(t, dialect)
			// Bulk cancels need several sleeping jobs running at once.
			env["CHAPTASK_MAX_CONCURRENCY"] = "8"
			s := startService(t, env)
			t.Run("idempotent submit", func(t *testing.T) { testIdempotentSubmit(t, s) })
			t.Run("idempotency key validation", func(t *testing.T) { testIdempotencyKeyValidation(t, s) })
			t.Run("bulk cancel by ids", func(t *testing.T) { testBulkCancelIDs(t, s) })
			t.Run("bulk cancel by filter", func(t *testing.T) { testBulkCancelFilter(t, s) })
			t.Run("bulk cancel validation", func(t *testing.T) { testBulkCancelValidation(t, s) })
			t.Run("rerun", func(t *testing.T) { testRerun(t, s) })
			t.Run("rerun of a canceled job", func(t *testing.T) { testRerunCanceled(t, s) })
			t.Run("rerun errors", func(t *testing.T) { testRerunErrors(t, s) })
		})
	}
}

func (s *service) executeKeyed(t *testing.T, taskID, key string) reply {
	t.Helper()
	return s.doHeader(t, "POST", "/api/v1/tasks/"+taskID+"/$execute", nil, http.Header{"Idempotency-Key": {key}})
}

// jobsOfTask lists the task's jobs once visibility shows want of them.
func (s *service) jobsOfTask(t *testing.T, taskID string, want int) []job {
	t.Helper()
	var list []job
	testclient.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool {
		r := s.do(t, "GET", "/api/v1/jobs?task_id="+taskID, nil)
		s.want(t, r, 200)
		r.decode(t, &list)
		return len(list) == want
	}, func() string { return fmt.Sprintf("%d jobs listed for task %s, want %d", len(list), taskID, want) })
	return list
}

// executions counts the Temporal executions with workflow id id, open or
// closed, as Temporal's visibility reports them.
func executions(t *testing.T, tc client.Client, id string) int64 {
	t.Helper()
	resp, err := tc.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: "default",
		Query:     "WorkflowId = '" + id + "'",
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetCount()
}

func testIdempotentSubmit(t *testing.T, s *service) {
	tc := s.temporalClient(t)
	taskID := s.createTask(t, map[string]any{"command": "sleep 1; echo keyed"})
	const key = "order-4711"

	// Twenty clients retry one submit at once: one job, one answer.
	replies := make([]reply, 20)
	concurrently(len(replies), func(i int) { replies[i] = s.executeKeyed(t, taskID, key) })
	fresh := 0
	for i, r := range replies {
		s.want(t, r, 202)
		if !bytes.Equal(r.body, replies[0].body) {
			t.Errorf("answer %d = %s, answer 0 = %s", i, r.body, replies[0].body)
		}
		if r.header.Get("Idempotent-Replayed") != "true" {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d answers started the job, want exactly 1", fresh)
	}
	jobID := replies[0].object(t)["job_id"].(string)
	if jobID != jobs.KeyedJobID(taskID, key) || !strings.HasPrefix(jobID, "0000000000") {
		t.Errorf("job id %s, want the id derived from the task and key", jobID)
	}
	if loc := replies[0].header.Get("Location"); loc != "/api/v1/jobs/"+jobID {
		t.Errorf("Location = %q", loc)
	}
	first := s.waitStatus(t, jobID, "completed", "failed", "canceled")
	if first.Status != "completed" || first.TaskID != taskID {
		t.Fatalf("keyed job: %+v", first)
	}
	if list := s.jobsOfTask(t, taskID, 1); list[0].ID != jobID {
		t.Errorf("jobs of the task: %+v", list)
	}
	if n := executions(t, tc, jobID); n != 1 {
		t.Errorf("%d Temporal executions of %s, want 1", n, jobID)
	}

	// After the job finished the key still names it.
	again := s.executeKeyed(t, taskID, key)
	s.want(t, again, 202)
	if !bytes.Equal(again.body, replies[0].body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("after completion: %s (replayed %q)", again.body, again.header.Get("Idempotent-Replayed"))
	}
	// Even when the task can no longer run, the existing job is the answer.
	s.want(t, s.do(t, "PUT", "/api/v1/tasks/"+taskID, map[string]any{"command": "sleep 1; echo keyed", "enabled": false}), 200)
	disabled := s.executeKeyed(t, taskID, key)
	s.want(t, disabled, 202)
	if !bytes.Equal(disabled.body, replies[0].body) {
		t.Errorf("keyed submit of the disabled task: %s", disabled.body)
	}
	s.want(t, s.do(t, "PUT", "/api/v1/tasks/"+taskID, map[string]any{"command": "echo second run"}), 200)
	s.jobsOfTask(t, taskID, 1)

	// Another key, or the same key for another task, is another job.
	other := s.executeKeyed(t, taskID, key+"-b")
	s.want(t, other, 202)
	otherID := other.object(t)["job_id"].(string)
	if otherID == jobID || other.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("another key answered %s (replayed %q)", other.body, other.header.Get("Idempotent-Replayed"))
	}
	otherTask := s.createTask(t, map[string]any{"command": "echo other task"})
	r := s.executeKeyed(t, otherTask, key)
	s.want(t, r, 202)
	if id := r.object(t)["job_id"].(string); id == jobID || id == otherID {
		t.Errorf("the same key for another task gave job %s", id)
	}
	s.waitStatus(t, otherID, "completed")

	// Once the job is deleted, the key starts a new job with the same id,
	// which stores an artifact of its own.
	s.want(t, s.do(t, "DELETE", "/api/v1/jobs/"+jobID, nil), 204)
	s.want(t, s.do(t, "GET", "/api/v1/jobs/"+jobID, nil), 404)
	testclient.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool { return executions(t, tc, jobID) == 0 },
		func() string { return "the deleted job is still in Temporal's visibility" })
	reborn := s.executeKeyed(t, taskID, key)
	s.want(t, reborn, 202)
	if !bytes.Equal(reborn.body, replies[0].body) || reborn.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("after deletion: %s (replayed %q), want a new job with the same id", reborn.body, reborn.header.Get("Idempotent-Replayed"))
	}
	second := s.waitStatus(t, jobID, "completed", "failed", "canceled")
	if second.Status != "completed" || second.ArtifactID == nil || *second.ArtifactID == *first.ArtifactID {
		t.Fatalf("the new job with the reused id: %+v, first artifact %s", second, *first.ArtifactID)
	}
	a := s.do(t, "GET", "/api/v1/artifacts/"+*second.ArtifactID, nil)
	s.want(t, a, 200)
	if out := a.object(t)["data"].(map[string]any)["stdout"]; out != "second run\n" {
		t.Errorf("the new job's stdout = %v", out)
	}
	old := s.do(t, "GET", "/api/v1/artifacts/"+*first.ArtifactID, nil)
	s.want(t, old, 200)
	if out := old.object(t)["data"].(map[string]any)["stdout"]; out != "keyed\n" {
		t.Errorf("the deleted job's artifact changed: stdout %v", out)
	}
}

func testIdempotencyKeyValidation(t *testing.T, s *service) {
	taskID := s.createTask(t, map[string]any{"command": "echo never"})
	for name, key := range map[string]string{
		"empty":     "",
		"too long":  strings.Repeat("k", 256),
		"non-ASCII": "clé",
		"control":   "tab\there",
	} {
		r := s.executeKeyed(t, taskID, key)
		if r.status != 422 {
			t.Errorf("%s key: %d %s", name, r.status, r.body)
			continue
		}
		s.want(t, r, 422) // FastAPI's detail list
		var p struct {
			Type   string
			Errors []struct{ Loc []string }
		}
		r.decode(t, &p)
		if p.Type != "urn:chapkit:error:validation-failed" || len(p.Errors) != 1 || !slices.Equal(p.Errors[0].Loc, []string{"header", "Idempotency-Key"}) {
			t.Errorf("%s key: %s", name, r.body)
		}
	}
	r := s.doHeader(t, "POST", "/api/v1/tasks/"+taskID+"/$execute", nil, http.Header{"Idempotency-Key": {"a", "b"}})
	s.want(t, r, 422)
	s.want(t, s.executeKeyed(t, taskID, strings.Repeat("k", 255)), 202)
	// Only the valid key started a job.
	s.jobsOfTask(t, taskID, 1)
	// An unknown task with a key that names no job is still unknown.
	s.want(t, s.executeKeyed(t, "01K72P5N5KCRM6MD3BRE4P0999", "k"), 400)
}

// cancelAnswer is the body of POST /jobs/$cancel.
type cancelAnswer struct {
	Canceled        []string `json:"canceled"`
	AlreadyFinished []string `json:"already_finished"`
	NotFound        []string `json:"not_found"`
	Errors          []any    `json:"errors"`
	Truncated       bool     `json:"truncated"`
}

func (s *service) cancelMany(t *testing.T, body any) cancelAnswer {
	t.Helper()
	r := s.do(t, "POST", "/api/v1/jobs/$cancel", body)
	s.want(t, r, 200)
	var a cancelAnswer
	r.decode(t, &a)
	if a.Canceled == nil || a.AlreadyFinished == nil || a.NotFound == nil || a.Errors == nil {
		t.Errorf("a list is null: %s", r.body)
	}
	return a
}

// sleepers starts n jobs of one sleeping task, waits until each runs and
// returns their ids and the pids of their commands.
func (s *service) sleepers(t *testing.T, n int) (string, []string, []int) {
	t.Helper()
	dir := t.TempDir()
	taskID := s.createTask(t, map[string]any{"command": "sleep 300 & echo $! > " + dir + "/$CHAPTASK_JOB_ID; sleep 300"})
	ids := make([]string, n)
	pids := make([]int, n)
	for i := range ids {
		ids[i] = s.execute(t, taskID)
	}
	for i, id := range ids {
		s.waitStatus(t, id, "running")
		_, readPID := pidFileAt(t, filepath.Join(dir, id))
		pids[i] = readPID()
	}
	return taskID, ids, pids
}

// pidFileAt is pidFile for a path of the caller's choosing.
func pidFileAt(t *testing.T, path string) (string, func() int) {
	t.Helper()
	return path, func() int {
		var pid int
		testclient.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
			raw, err := os.ReadFile(path)
			if err != nil {
				return false
			}
			_, err = fmt.Sscan(string(raw), &pid)
			return err == nil
		}, func() string { return "no pid in " + path })
		return pid
	}
}

func testBulkCancelIDs(t *testing.T, s *service) {
	_, live, pids := s.sleepers(t, 3)
	finished := s.execute(t, s.createTask(t, map[string]any{"command": "echo done"}))
	s.waitStatus(t, finished, "completed")
	unknown := db.NewID()

	a := s.cancelMany(t, map[string]any{"ids": []string{live[0], live[1], finished, unknown, live[2], live[0]}})
	if !slices.Equal(a.Canceled, live) || !slices.Equal(a.AlreadyFinished, []string{finished}) ||
		!slices.Equal(a.NotFound, []string{unknown}) || len(a.Errors) != 0 || a.Truncated {
		t.Errorf("answer %+v", a)
	}
	for i, id := range live {
		if j := s.waitStatus(t, id, "canceled", "completed", "failed"); j.Status != "canceled" {
			t.Errorf("job %s ended %s", id, j.Status)
		}
		waitProcessGone(t, pids[i], 5*time.Second)
	}
	if j := s.job(t, finished); j.Status != "completed" {
		t.Errorf("the finished job is now %s", j.Status)
	}
	// Cancelling again finds them finished.
	again := s.cancelMany(t, map[string]any{"ids": live})
	if !slices.Equal(again.AlreadyFinished, live) || len(again.Canceled) != 0 {
		t.Errorf("second cancel: %+v", again)
	}
}

func testBulkCancelFilter(t *testing.T, s *service) {
	taskID, live, pids := s.sleepers(t, 3)
	otherTask, other, otherPIDs := s.sleepers(t, 1)
	listed := func() bool {
		var list []job
		s.do(t, "GET", "/api/v1/jobs?status_filter=running&task_id="+taskID, nil).decode(t, &list)
		return len(list) == len(live)
	}
	testclient.Eventually(t, 30*time.Second, 50*time.Millisecond, listed, func() string { return "the running jobs are not listed yet" })

	a := s.cancelMany(t, map[string]any{"status_filter": "running", "task_id": taskID})
	got := slices.Clone(a.Canceled)
	slices.Sort(got)
	want := slices.Clone(live)
	slices.Sort(want)
	if !slices.Equal(got, want) || a.Truncated || len(a.NotFound)+len(a.AlreadyFinished)+len(a.Errors) != 0 {
		t.Errorf("answer %+v, want the 3 jobs of task %s canceled", a, taskID)
	}
	for i, id := range live {
		if j := s.waitStatus(t, id, "canceled", "completed", "failed"); j.Status != "canceled" {
			t.Errorf("job %s ended %s", id, j.Status)
		}
		waitProcessGone(t, pids[i], 5*time.Second)
	}
	// The other task's job was not selected.
	if j := s.job(t, other[0]); j.Status != "running" {
		t.Errorf("the other task's job is %s", j.Status)
	}
	// Nothing pending for that task: an empty answer, not an error.
	if a := s.cancelMany(t, map[string]any{"status_filter": "pending", "task_id": otherTask}); len(a.Canceled) != 0 {
		t.Errorf("pending filter canceled %v", a.Canceled)
	}
	s.cancelMany(t, map[string]any{"ids": other})
	s.waitStatus(t, other[0], "canceled")
	waitProcessGone(t, otherPIDs[0], 5*time.Second)
}

func testBulkCancelValidation(t *testing.T, s *service) {
	tooMany := make([]string, jobs.MaxBulk+1)
	for i := range tooMany {
		tooMany[i] = db.NewID()
	}
	for name, tc := range map[string]struct {
		body  any
		field string
	}{
		"empty object":        {map[string]any{}, ""},
		"both":                {map[string]any{"ids": []string{db.NewID()}, "status_filter": "running"}, ""},
		"no ids":              {map[string]any{"ids": []string{}}, "ids"},
		"too many ids":        {map[string]any{"ids": tooMany}, "ids"},
		"bad id":              {map[string]any{"ids": []string{db.NewID(), "nope"}}, "1"},
		"id not a string":     {map[string]any{"ids": []any{42}}, "0"},
		"ids not a list":      {map[string]any{"ids": "all"}, "ids"},
		"terminal status":     {map[string]any{"status_filter": "completed"}, "status_filter"},
		"unknown status":      {map[string]any{"status_filter": "bogus"}, "status_filter"},
		"task without status": {map[string]any{"task_id": db.NewID()}, "task_id"},
		"bad task id":         {map[string]any{"status_filter": "running", "task_id": "x"}, "task_id"},
		"unknown field":       {map[string]any{"status": "running", "ids": []string{db.NewID()}}, "status"},
		"array body":          {[]string{db.NewID()}, "body"},
	} {
		r := s.do(t, "POST", "/api/v1/jobs/$cancel", tc.body)
		if r.status != 422 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
			continue
		}
		s.want(t, r, 422) // FastAPI's detail list
		var p struct{ Errors []struct{ Loc []string } }
		r.decode(t, &p)
		named := false
		for _, e := range p.Errors {
			named = named || e.Loc[len(e.Loc)-1] == tc.field || tc.field == ""
		}
		if !named {
			t.Errorf("%s: %s does not name %q", name, r.body, tc.field)
		}
	}
	req, err := http.NewRequest("POST", s.base+"/api/v1/jobs/$cancel", strings.NewReader(`{"ids": [`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Errorf("malformed JSON: %d", res.StatusCode)
	}
	s.want(t, s.do(t, "GET", "/api/v1/jobs/$cancel", nil), 400) // the {id} route: not a ULID
}

// artifactData returns the data of a completed job's artifact.
func (s *service) artifactData(t *testing.T, j job) map[string]any {
	t.Helper()
	if j.Status != "completed" || j.ArtifactID == nil {
		t.Fatalf("job %s ended %s (error %s), want completed", j.ID, j.Status, deref(j.Error))
	}
	a := s.do(t, "GET", "/api/v1/artifacts/"+*j.ArtifactID, nil)
	s.want(t, a, 200)
	return a.object(t)["data"].(map[string]any)
}

func (s *service) rerun(t *testing.T, jobID string) string {
	t.Helper()
	r := s.do(t, "POST", "/api/v1/jobs/"+jobID+"/$rerun", nil)
	s.want(t, r, 202)
	body := r.object(t)
	id := body["job_id"].(string)
	if id == jobID || body["message"] != "Task submitted for execution. Job ID: "+id || r.header.Get("Location") != "/api/v1/jobs/"+id {
		t.Errorf("rerun answer %s, Location %q", r.body, r.header.Get("Location"))
	}
	return id
}

func testRerun(t *testing.T, s *service) {
	taskID := s.createTask(t, map[string]any{"command": "echo original"})
	originalID := s.execute(t, taskID)
	original := s.artifactData(t, s.waitStatus(t, originalID, "completed", "failed", "canceled"))
	s.want(t, s.do(t, "PUT", "/api/v1/tasks/"+taskID, map[string]any{"command": "echo modified"}), 200)

	rerunID := s.rerun(t, originalID)
	j := s.waitStatus(t, rerunID, "completed", "failed", "canceled")
	data := s.artifactData(t, j)
	if !reflect.DeepEqual(data["task"], original["task"]) || data["stdout"] != "original\n" {
		t.Errorf("rerun ran %v (stdout %v), want the original snapshot %v", data["task"], data["stdout"], original["task"])
	}
	r := s.do(t, "GET", "/api/v1/jobs/"+rerunID, nil)
	var rec struct {
		TaskID  string `json:"task_id"`
		RerunOf string `json:"rerun_of"`
	}
	r.decode(t, &rec)
	if rec.TaskID != taskID || rec.RerunOf != originalID {
		t.Errorf("rerun record %s", r.body)
	}
	if strings.Contains(string(s.do(t, "GET", "/api/v1/jobs/"+originalID, nil).body), "rerun_of") {
		t.Error("an ordinary job has rerun_of")
	}

	// A rerun of a rerun, after the task is gone, still runs the original.
	s.want(t, s.do(t, "DELETE", "/api/v1/tasks/"+taskID, nil), 204)
	again := s.artifactData(t, s.waitStatus(t, s.rerun(t, rerunID), "completed", "failed", "canceled"))
	if !reflect.DeepEqual(again["task"], original["task"]) || again["stdout"] != "original\n" {
		t.Errorf("rerun of the rerun ran %v", again["task"])
	}
	// The artifacts of the deleted task include the reruns.
	var arts []map[string]any
	s.do(t, "GET", "/api/v1/artifacts?task_id="+taskID, nil).decode(t, &arts)
	if len(arts) != 3 {
		t.Errorf("%d artifacts for the task, want 3", len(arts))
	}
}

func testRerunCanceled(t *testing.T, s *service) {
	gate := filepath.Join(t.TempDir(), "go")
	command := "test -f " + gate + " && echo second || sleep 300"
	taskID := s.createTask(t, map[string]any{"command": command})
	canceledID := s.execute(t, taskID)
	s.waitStatus(t, canceledID, "running")
	s.want(t, s.do(t, "DELETE", "/api/v1/jobs/"+canceledID, nil), 204)
	s.waitStatus(t, canceledID, "canceled")

	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s.want(t, s.do(t, "PUT", "/api/v1/tasks/"+taskID, map[string]any{"command": "echo modified"}), 200)
	data := s.artifactData(t, s.waitStatus(t, s.rerun(t, canceledID), "completed", "failed", "canceled"))
	task := data["task"].(map[string]any)
	if task["command"] != command || task["id"] != taskID || data["stdout"] != "second\n" {
		t.Errorf("rerun of the canceled job ran %v, stdout %v", task, data["stdout"])
	}
}

func testRerunErrors(t *testing.T, s *service) {
	s.want(t, s.do(t, "POST", "/api/v1/jobs/"+db.NewID()+"/$rerun", nil), 404)
	s.want(t, s.do(t, "POST", "/api/v1/jobs/nope/$rerun", nil), 400)
	s.want(t, s.do(t, "GET", "/api/v1/jobs/"+db.NewID()+"/$rerun", nil), 405)

	// A job whose task vanished before its snapshot has nothing to rerun.
	tc := s.temporalClient(t)
	orphan := db.NewID()
	run, err := tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: orphan, TaskQueue: workflows.DefaultTaskQueue},
		workflows.ExecuteTaskWorkflow, workflows.ExecuteInput{TaskID: db.NewID()})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(context.Background(), nil); err == nil {
		t.Fatal("a job of a missing task completed")
	}
	r := s.do(t, "POST", "/api/v1/jobs/"+orphan+"/$rerun", nil)
	s.want(t, r, 409)
	if p := r.object(t); p["type"] != "urn:chapkit:error:conflict" || !strings.Contains(p["detail"].(string), "no task snapshot") {
		t.Errorf("409 problem: %s", r.body)
	}
}

// testJobOperationsWithoutTemporal checks that keyed submits, bulk cancels
// and reruns answer 503 when Temporal is down, and still refuse bad input
// first.
func testJobOperationsWithoutTemporal(t *testing.T, s *service) {
	t.Helper()
	unknown := "01K72P5N5KCRM6MD3BRE4P0999"
	for _, r := range []reply{
		s.executeKeyed(t, seed+"5", "down"),
		s.do(t, "POST", "/api/v1/jobs/$cancel", map[string]any{"ids": []string{unknown}}),
		s.do(t, "POST", "/api/v1/jobs/$cancel", map[string]any{"status_filter": "running"}),
		s.do(t, "POST", "/api/v1/jobs/"+unknown+"/$rerun", nil),
	} {
		if r.status != 503 {
			t.Errorf("with Temporal down: %d %s", r.status, r.body)
		}
	}
	s.want(t, s.executeKeyed(t, seed+"5", ""), 422)
	s.want(t, s.do(t, "POST", "/api/v1/jobs/$cancel", map[string]any{}), 422)
}
