package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/embedded"
	"github.com/chaptask/chaptask/internal/testclient"
	"github.com/chaptask/chaptask/jobs"
)

// TestEndToEnd drives the real service over HTTP, on each database, against
// its embedded Temporal server: every example of the seed documents and the
// job lifecycle around them.
func TestEndToEnd(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			s := startService(t, newEnv(t, dialect))
			t.Run("health", func(t *testing.T) { testHealth(t, s) })
			t.Run("seeded examples", func(t *testing.T) { testSeededExamples(t, s) })
			t.Run("shell examples", func(t *testing.T) { testShellExamples(t, s) })
			t.Run("function examples", func(t *testing.T) { testFunctionExamples(t, s) })
			t.Run("execute errors", func(t *testing.T) { testExecuteErrors(t, s) })
			t.Run("snapshot immutability", func(t *testing.T) { testSnapshotImmutable(t, s) })
			t.Run("artifacts survive task deletion", func(t *testing.T) { testArtifactsSurvive(t, s) })
			t.Run("ten concurrent executions", func(t *testing.T) { testConcurrentExecutions(t, s) })
			t.Run("stream", func(t *testing.T) { testStream(t, s) })
			t.Run("cancel through the API", func(t *testing.T) { testCancelAPI(t, s) })
			t.Run("cancel through Temporal", func(t *testing.T) { testCancelTemporal(t, s) })
			t.Run("shell timeout", func(t *testing.T) { testTimeout(t, s) })
			t.Run("function timeout", func(t *testing.T) { testFunctionTimeout(t, s) })
			t.Run("default retry policy", func(t *testing.T) { testDefaultPolicy(t, s) })
			t.Run("status filters and pages", func(t *testing.T) { testStatusFilters(t, s) })
			t.Run("delete finished job", func(t *testing.T) { testDeleteFinished(t, s) })
			t.Run("functions listing", func(t *testing.T) { testFunctionsListing(t, s) })
			t.Run("large output", func(t *testing.T) { testLargeOutput(t, s) })
			t.Run("wait for the result", func(t *testing.T) { testWait(t, s) })
			t.Run("metrics", func(t *testing.T) { testMetrics(t, s) })
		})
	}
}

func testHealth(t *testing.T, s *service) {
	r := s.do(t, "GET", "/health", nil)
	s.want(t, r, 200)
	// The embedded Temporal server stores into the data directory, so its
	// free space is checked too.
	if got := strings.TrimSpace(string(r.body)); got != `{"status":"healthy","checks":{"database":"healthy","storage":"healthy","temporal":"healthy"}}` {
		t.Errorf("health = %s", got)
	}
}

const seed = "01JCSEED0000000000000PYTH"

func testSeededExamples(t *testing.T, s *service) {
	var tasks []map[string]any
	s.do(t, "GET", "/api/v1/tasks?enabled=false", nil).decode(t, &tasks)
	disabled := map[string]bool{}
	for _, task := range tasks {
		disabled[task["id"].(string)] = true
	}
	if !disabled[seed+"6"] || !disabled[seed+"7"] || len(tasks) != 2 {
		t.Errorf("disabled tasks = %v, want the disabled example and the orphan", tasks)
	}

	sum := s.runTask(t, seed+"1")
	if res := sum["result"].(map[string]any); res["result"] != 42.0 || res["operation"] != "sum" || sum["error"] != nil {
		t.Errorf("calculate_sum: %v", sum)
	}
	task := sum["task"].(map[string]any)
	if task["id"] != seed+"1" || task["command"] != "calculate_sum" || task["task_type"] != "python" {
		t.Errorf("snapshot: %v", task)
	}

	proc := s.runTask(t, seed+"2")["result"].(map[string]any)
	if proc["processed"] != "HELLO WORLD" || proc["original"] != "Hello World" || proc["length"] != 11.0 {
		t.Errorf("process_data: %v", proc)
	}

	slow := s.runTask(t, seed+"3")["result"].(map[string]any)
	if slow["completed"] != true || slow["duration_seconds"] != 2.0 {
		t.Errorf("slow_computation: %v", slow)
	}

	failing := s.runTask(t, seed+"4")
	e, _ := failing["error"].(map[string]any)
	if failing["result"] != nil || e["type"] != "ValueError" || e["message"] != "This task was designed to fail" || !strings.Contains(e["traceback"].(string), "failing") {
		t.Errorf("failing_task: %v", failing)
	}

	shell := s.runTask(t, seed+"5")
	if shell["stdout"] != "This is a shell task\n" || shell["stderr"] != "" || shell["exit_code"] != 0.0 {
		t.Errorf("shell example: %v", shell)
	}

	for _, id := range []string{seed + "6", seed + "7"} {
		r := s.do(t, "POST", "/api/v1/tasks/"+id+"/$execute", nil)
		s.want(t, r, 400)
		if d := r.object(t)["detail"]; d != "Cannot execute disabled task "+id {
			t.Errorf("detail = %v", d)
		}
	}

	count := s.runTask(t, seed+"8")["result"].(map[string]any)
	if count["total_tasks"].(float64) < 8 {
		t.Errorf("query_task_count: %v", count)
	}
}

func testShellExamples(t *testing.T, s *service) {
	cases := []struct {
		command, stdout, stderr string
		exit                    float64
	}{
		{`echo "Hello World"`, "Hello World\n", "", 0},
		{`printf "Line 1\nLine 2\nLine 3"`, "Line 1\nLine 2\nLine 3", "", 0},
		{`>&2 echo "error message"`, "", "error message\n", 0},
		{`bash -c 'for i in {1..5}; do echo Step $i; done'`, "Step 1\nStep 2\nStep 3\nStep 4\nStep 5\n", "", 0},
		{`python3 -c "import json; print(json.dumps({\"result\": 42}))"`, "{\"result\": 42}\n", "", 0},
		{`exit 3`, "", "", 3},
		{`printf '\377\376ok'`, "\uFFFDok", "", 0},
	}
	for _, tc := range cases {
		data := s.runTask(t, s.createTask(t, map[string]any{"command": tc.command}))
		if data["stdout"] != tc.stdout || data["stderr"] != tc.stderr || data["exit_code"] != tc.exit {
			t.Errorf("%s: stdout %q stderr %q exit %v", tc.command, data["stdout"], data["stderr"], data["exit_code"])
		}
	}

	failing := s.runTask(t, s.createTask(t, map[string]any{"command": "ls /nonexistent/directory"}))
	if failing["exit_code"] == 0.0 || !strings.Contains(failing["stderr"].(string), "nonexistent") {
		t.Errorf("failing command: %v", failing)
	}

	version := s.runTask(t, s.createTask(t, map[string]any{"command": `python3 -c "import sys; print(sys.version); print(2+2)"`}))
	if !strings.HasSuffix(version["stdout"].(string), "\n4\n") {
		t.Errorf("python one-liner: %v", version["stdout"])
	}
}

func testFunctionExamples(t *testing.T, s *service) {
	fn := func(name string, params any) map[string]any {
		return s.runTask(t, s.createTask(t, map[string]any{"command": name, "task_type": "go", "parameters": params}))
	}
	if r := fn("calculate_sum", map[string]any{"a": 25, "b": 17})["result"].(map[string]any); r["result"] != 42.0 {
		t.Errorf("calculate_sum 25+17: %v", r)
	}
	// chapkit's exact words (the seed's guide), and Python's for a keyword
	// the function does not take (the seed's "Wrong - TypeError").
	missing := fn("calculate_sum", map[string]any{"a": 1})
	if e, _ := missing["error"].(map[string]any); e["type"] != "ValueError" ||
		e["message"] != "Missing required parameter 'b' for task function. Parameter is not injectable and not provided in task.parameters." {
		t.Errorf("missing parameter: %v", missing)
	}
	unknown := fn("calculate_sum", map[string]any{"x": 10, "y": 32})
	if e, _ := unknown["error"].(map[string]any); e == nil || e["type"] != "TypeError" || e["message"] != "calculate_sum() got an unexpected keyword argument 'x'" {
		t.Errorf("wrong parameter names: %v", unknown)
	}
	orphan := fn("nonexistent_function", map[string]any{})
	if e, _ := orphan["error"].(map[string]any); e == nil || e["type"] != "ValueError" || e["message"] != "Python function 'nonexistent_function' not found in registry" {
		t.Errorf("unregistered function: %v", orphan)
	}
	if r := fn("process_data", map[string]any{"input_text": "Hello World", "uppercase": false})["result"].(map[string]any); r["processed"] != "hello world" {
		t.Errorf("process_data lower: %v", r)
	}
	if r := fn("failing_task", map[string]any{"should_fail": false}); r["error"] != nil || r["result"].(map[string]any)["success"] != true {
		t.Errorf("failing_task should_fail=false: %v", r)
	}
}

func testExecuteErrors(t *testing.T, s *service) {
	unknown := "01K72P5N5KCRM6MD3BRE4P0999"
	r := s.do(t, "POST", "/api/v1/tasks/"+unknown+"/$execute", nil)
	s.want(t, r, 400)
	if d := r.object(t)["detail"]; d != "Task "+unknown+" not found" {
		t.Errorf("detail = %v", d)
	}
	r = s.do(t, "POST", "/api/v1/tasks/invalid-id/$execute", nil)
	s.want(t, r, 400)
	if typ := r.object(t)["type"]; typ != "urn:chapkit:error:invalid-ulid" {
		t.Errorf("type = %v", typ)
	}
	s.want(t, s.do(t, "GET", "/api/v1/jobs/"+unknown, nil), 404)
	s.want(t, s.do(t, "GET", "/api/v1/jobs/nope", nil), 400)
	s.want(t, s.do(t, "DELETE", "/api/v1/jobs/"+unknown, nil), 404)
	s.want(t, s.do(t, "GET", "/api/v1/jobs/"+unknown+"/$stream", nil), 404)
	s.want(t, s.do(t, "GET", "/api/v1/jobs/nope/$stream", nil), 400)
}

func testSnapshotImmutable(t *testing.T, s *service) {
	id := s.createTask(t, map[string]any{"command": "echo original"})
	first := s.runTask(t, id)
	s.want(t, s.do(t, "PUT", "/api/v1/tasks/"+id, map[string]any{"command": "echo modified"}), 200)
	second := s.runTask(t, id)
	if first["task"].(map[string]any)["command"] != "echo original" || first["stdout"] != "original\n" {
		t.Errorf("first run: %v", first)
	}
	if second["task"].(map[string]any)["command"] != "echo modified" || second["stdout"] != "modified\n" {
		t.Errorf("second run: %v", second)
	}
}

func testArtifactsSurvive(t *testing.T, s *service) {
	id := s.createTask(t, map[string]any{"command": "echo keep me"})
	jobID := s.execute(t, id)
	j := s.waitStatus(t, jobID, "completed")
	s.want(t, s.do(t, "DELETE", "/api/v1/tasks/"+id, nil), 204)
	a := s.do(t, "GET", "/api/v1/artifacts/"+*j.ArtifactID, nil)
	s.want(t, a, 200)
	if a.object(t)["data"].(map[string]any)["stdout"] != "keep me\n" {
		t.Errorf("artifact after task deletion: %s", a.body)
	}
	var list []map[string]any
	s.do(t, "GET", "/api/v1/artifacts?task_id="+id, nil).decode(t, &list)
	if len(list) != 1 || list[0]["id"] != *j.ArtifactID {
		t.Errorf("artifacts of the deleted task: %v", list)
	}
	if again := s.job(t, jobID); again.Status != "completed" || *again.ArtifactID != *j.ArtifactID {
		t.Errorf("job after task deletion: %+v", again)
	}
}

func testConcurrentExecutions(t *testing.T, s *service) {
	id := s.createTask(t, map[string]any{"command": "echo concurrent"})
	jobIDs := make([]string, 10)
	concurrently(10, func(i int) { jobIDs[i] = s.execute(t, id) })
	seen := map[string]bool{}
	for _, jobID := range jobIDs {
		j := s.waitStatus(t, jobID, "completed", "failed", "canceled")
		if j.Status != "completed" || j.ArtifactID == nil || seen[*j.ArtifactID] {
			t.Fatalf("job %+v", j)
		}
		seen[*j.ArtifactID] = true
	}
	var list []map[string]any
	s.do(t, "GET", "/api/v1/artifacts?task_id="+id, nil).decode(t, &list)
	if len(list) != 10 {
		t.Errorf("%d artifacts for 10 executions", len(list))
	}
	// The task id is a search attribute: the job list filters on it.
	var jobsOfTask []job
	testclient.Eventually(t, 10*time.Second, 50*time.Millisecond, func() bool {
		s.do(t, "GET", "/api/v1/jobs?task_id="+id, nil).decode(t, &jobsOfTask)
		return len(jobsOfTask) == 10
	}, func() string { return fmt.Sprintf("%d jobs listed for the task, want 10", len(jobsOfTask)) })
	s.want(t, s.do(t, "GET", "/api/v1/jobs?task_id=nope", nil), 422)
}

func testStream(t *testing.T, s *service) {
	id := s.createTask(t, map[string]any{"command": "sleep 1; echo streamed"})
	jobID := s.execute(t, id)
	res, err := http.Get(s.base + "/api/v1/jobs/" + jobID + "/$stream")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" || res.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("headers: %v", res.Header)
	}
	var statuses []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		payload, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("unexpected line %q", line)
		}
		var j job
		if err := json.Unmarshal([]byte(payload), &j); err != nil || j.ID != jobID {
			t.Fatalf("event %q: %v", payload, err)
		}
		statuses = append(statuses, j.Status)
	}
	// The stream closes by itself after the terminal status.
	if len(statuses) == 0 || statuses[len(statuses)-1] != "completed" {
		t.Fatalf("statuses %v, want them to end with completed", statuses)
	}
	for i := 1; i < len(statuses); i++ {
		if statuses[i] == statuses[i-1] {
			t.Errorf("repeated status %q in %v", statuses[i], statuses)
		}
	}
	if !strings.Contains(strings.Join(statuses, ","), "running") {
		t.Errorf("statuses %v never show running", statuses)
	}
}

// sleeperCommand runs two sleeps in the job's process group and records the
// group's id (the shell's pid) in path.
func sleeperCommand(path string) string {
	return "echo $$ > " + path + "; sleep 300 & sleep 300"
}

// A canceled job leaves no process of its group alive 2 s after it ended,
// was never retried, and left no artifact. The task allows retries, so a
// retry would show.
func testCancelAPI(t *testing.T, s *service) {
	path, readPID := pidFile(t)
	taskID := s.createTask(t, map[string]any{"command": sleeperCommand(path), "retry_policy": map[string]any{"max_attempts": 3}})
	jobID := s.execute(t, taskID)
	s.waitStatus(t, jobID, "running")
	pgid := readPID()
	s.want(t, s.do(t, "DELETE", "/api/v1/jobs/"+jobID, nil), 204)
	j := s.waitStatus(t, jobID, "canceled", "completed", "failed")
	waitGroupGone(t, pgid, 2*time.Second)
	if j.Status != "canceled" || j.ArtifactID != nil {
		t.Fatalf("after cancel: %+v", j)
	}
	step := s.runHistory(t, jobID)
	step.ranOnce(t)
	if step.closedBy != enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCELED {
		t.Errorf("run step closed by %v, want canceled", step.closedBy)
	}
	s.noArtifacts(t, taskID)
}

func testCancelTemporal(t *testing.T, s *service) {
	path, readPID := pidFile(t)
	taskID := s.createTask(t, map[string]any{"command": sleeperCommand(path), "retry_policy": map[string]any{"max_attempts": 3}})
	jobID := s.execute(t, taskID)
	s.waitStatus(t, jobID, "running")
	pgid := readPID()
	// What `tctl workflow cancel -w <job_id>` and `temporal workflow cancel` do.
	if err := s.temporalClient(t).CancelWorkflow(context.Background(), jobID, ""); err != nil {
		t.Fatal(err)
	}
	j := s.waitStatus(t, jobID, "canceled", "completed", "failed")
	waitGroupGone(t, pgid, 2*time.Second)
	if j.Status != "canceled" || j.ArtifactID != nil {
		t.Fatalf("after Temporal cancel: %+v", j)
	}
	step := s.runHistory(t, jobID)
	step.ranOnce(t)
	if step.closedBy != enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCELED {
		t.Errorf("run step closed by %v, want canceled", step.closedBy)
	}
	s.noArtifacts(t, taskID)
}

func testStatusFilters(t *testing.T, s *service) {
	tc := s.temporalClient(t)
	running := s.execute(t, s.createTask(t, map[string]any{"command": "sleep 300"}))
	s.waitStatus(t, running, "running")
	terminated := s.execute(t, s.createTask(t, map[string]any{"command": "sleep 300"}))
	s.waitStatus(t, terminated, "running")
	if err := tc.TerminateWorkflow(context.Background(), terminated, "", "operator says stop"); err != nil {
		t.Fatal(err)
	}
	failed := s.waitStatus(t, terminated, "failed")
	if failed.Error == nil || !strings.Contains(*failed.Error, "operator says stop") {
		t.Errorf("terminated job error = %v", deref(failed.Error))
	}

	has := func(status, id string) bool {
		var list []job
		r := s.do(t, "GET", "/api/v1/jobs?status_filter="+status, nil)
		s.want(t, r, 200)
		r.decode(t, &list)
		for _, j := range list {
			if j.Status != status {
				t.Errorf("?status_filter=%s lists a %s job", status, j.Status)
			}
			if j.ID == id {
				return true
			}
		}
		return false
	}
	// Visibility is eventually consistent: poll briefly.
	testclient.Eventually(t, 10*time.Second, 50*time.Millisecond, func() bool {
		return has("running", running) && has("failed", terminated) && !has("completed", running)
	}, func() string { return "status filters do not show the running and the terminated job" })
	var completed []job
	s.do(t, "GET", "/api/v1/jobs?status_filter=completed", nil).decode(t, &completed)
	if len(completed) == 0 {
		t.Error("no completed jobs listed")
	}
	for _, j := range completed {
		if j.ArtifactID == nil {
			t.Errorf("completed job %s without artifact_id in the list", j.ID)
		}
	}

	var page struct {
		Items                    []job
		Total, Page, Size, Pages int
	}
	// The total is a shared count that may lag a second behind the jobs.
	testclient.Eventually(t, 15*time.Second, 100*time.Millisecond, func() bool {
		r := s.do(t, "GET", "/api/v1/jobs?page=1&size=3", nil)
		s.want(t, r, 200)
		r.decode(t, &page)
		return len(page.Items) == 3 && page.Total >= 10 && page.Pages == (page.Total+2)/3
	}, func() string {
		return fmt.Sprintf("page: %d items, total %d, pages %d", len(page.Items), page.Total, page.Pages)
	})
	s.want(t, s.do(t, "GET", "/api/v1/jobs?status_filter=bogus", nil), 422)
	s.want(t, s.do(t, "GET", "/api/v1/jobs?page=0&size=3", nil), 422)

	s.want(t, s.do(t, "DELETE", "/api/v1/jobs/"+running, nil), 204)
	s.waitStatus(t, running, "canceled")
}

func testDeleteFinished(t *testing.T, s *service) {
	jobID := s.execute(t, s.createTask(t, map[string]any{"command": "echo bye"}))
	j := s.waitStatus(t, jobID, "completed")
	s.want(t, s.do(t, "DELETE", "/api/v1/jobs/"+jobID, nil), 204)
	s.want(t, s.do(t, "GET", "/api/v1/jobs/"+jobID, nil), 404)
	var list []job
	s.do(t, "GET", "/api/v1/jobs", nil).decode(t, &list)
	for _, other := range list {
		if other.ID == jobID {
			t.Errorf("deleted job still listed")
		}
	}
	s.want(t, s.do(t, "GET", "/api/v1/artifacts/"+*j.ArtifactID, nil), 200)
}

func testFunctionsListing(t *testing.T, s *service) {
	var fns []struct {
		Name       string
		Parameters map[string]any
	}
	s.do(t, "GET", "/api/v1/functions", nil).decode(t, &fns)
	names := map[string]bool{}
	for _, f := range fns {
		names[f.Name] = true
	}
	for _, want := range []string{"calculate_sum", "process_data", "slow_computation", "failing_task", "query_task_count"} {
		if !names[want] {
			t.Errorf("function %s not listed", want)
		}
	}
}

// TestRestart stops the service while a job runs and starts it again: the
// job completes with exactly one artifact, and tasks survive.
func TestRestart(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			s := startService(t, newEnv(t, dialect))
			taskID := s.createTask(t, map[string]any{"command": "sleep 2; echo survived"})
			jobID := s.execute(t, taskID)
			s.waitStatus(t, jobID, "running")
			s.restart()
			j := s.waitStatus(t, jobID, "completed", "failed", "canceled")
			if j.Status != "completed" || j.ArtifactID == nil {
				t.Fatalf("after restart: %+v (error %s)", j, deref(j.Error))
			}
			var list []map[string]any
			s.do(t, "GET", "/api/v1/artifacts?task_id="+taskID, nil).decode(t, &list)
			if len(list) != 1 || list[0]["id"] != *j.ArtifactID {
				t.Fatalf("artifacts after restart: %v", list)
			}
			if list[0]["data"].(map[string]any)["stdout"] != "survived\n" {
				t.Errorf("artifact: %v", list[0])
			}
			s.want(t, s.do(t, "GET", "/api/v1/tasks/"+taskID, nil), 200)
		})
	}
}

// testLargeOutput runs a command printing 10 MB: the artifact keeps head and
// tail with the truncation flags, and nothing that large crosses Temporal.
func testLargeOutput(t *testing.T, s *service) {
	const size = 10_000_000
	data := s.runTask(t, s.createTask(t, map[string]any{
		"command": "head -c 10000000 /dev/zero | tr '\\0' a; echo tail-marker >&2",
	}))
	stdout := data["stdout"].(string)
	if data["stdout_truncated"] != true || data["stdout_bytes"] != float64(size) {
		t.Errorf("truncation flags: %v %v", data["stdout_truncated"], data["stdout_bytes"])
	}
	if len(stdout) < 4<<20 || len(stdout) > 4<<20+100 || !strings.HasPrefix(stdout, "aaaa") || !strings.HasSuffix(stdout, "aaaa") {
		t.Errorf("stdout kept %d bytes", len(stdout))
	}
	if data["stderr"] != "tail-marker\n" || data["stderr_truncated"] != nil {
		t.Errorf("stderr: %v", data["stderr"])
	}
}

// TestRoles runs the API and the worker as separate processes against one
// Temporal server and one database, with one job at a time per worker.
func TestRoles(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			frontend := startService(t, newEnv(t, dialect), "-role=all", "-max-concurrency=1")
			shared := func(role string) map[string]string {
				env := maps.Clone(frontend.env)
				env["TEMPORAL_ADDRESS"] = frontend.temporalAddr
				env["CHAPTASK_TASK_QUEUE"] = "roles"
				env["CHAPTASK_ROLE"] = role
				env["CHAPTASK_MAX_CONCURRENCY"] = "1"
				return env
			}
			workerEnv := shared("worker")
			workerEnv["CHAPTASK_LOG_LEVEL"] = "info" // startWorker waits for "worker started"
			worker := &service{t: t, env: workerEnv}
			worker.startWorker()
			t.Cleanup(worker.stop)
			apiOnly := startService(t, shared("api"))

			taskID := apiOnly.createTask(t, map[string]any{"command": "sleep 1; echo from the worker"})
			first := apiOnly.execute(t, taskID)
			apiOnly.waitStatus(t, first, "running")
			second := apiOnly.execute(t, taskID)
			// One run slot: the second job waits as pending.
			if j := apiOnly.job(t, second); j.Status != "pending" {
				if j2 := apiOnly.job(t, first); j2.Status == "running" {
					t.Errorf("second job is %s while the first runs, want pending", j.Status)
				}
			}
			for _, id := range []string{first, second} {
				j := apiOnly.waitStatus(t, id, "completed", "failed", "canceled")
				if j.Status != "completed" {
					t.Fatalf("job %s: %+v", id, j)
				}
			}
		})
	}
}

// testWait long-polls a job with ?wait=: the answer comes when the job ends,
// or with the current record when the wait runs out.
func testWait(t *testing.T, s *service) {
	jobID := s.execute(t, s.createTask(t, map[string]any{"command": "sleep 1; echo waited"}))
	r := s.do(t, "GET", "/api/v1/jobs/"+jobID+"?wait=30s", nil)
	s.want(t, r, 200)
	var j job
	r.decode(t, &j)
	if j.Status != "completed" || j.ArtifactID == nil {
		t.Errorf("after ?wait=30s: %+v", j)
	}
	s.recordHistory(t, jobID, "completed_shell_stored_by_run_step.json")

	long := s.execute(t, s.createTask(t, map[string]any{"command": "sleep 300"}))
	s.waitStatus(t, long, "running")
	r = s.do(t, "GET", "/api/v1/jobs/"+long+"?wait=0.2", nil)
	s.want(t, r, 200)
	r.decode(t, &j)
	if j.Status != "running" {
		t.Errorf("a short wait on a running job answered %s", j.Status)
	}
	for _, bad := range []string{"soon", "-1s", "61s", "NaN"} {
		s.want(t, s.do(t, "GET", "/api/v1/jobs/"+long+"?wait="+bad, nil), 422)
	}
	s.want(t, s.do(t, "DELETE", "/api/v1/jobs/"+long, nil), 204)
	s.waitStatus(t, long, "canceled")
}

// TestHealthWithoutTemporal stops the Temporal server under a running API:
// /health answers 503 naming the temporal check, and recovers nothing it
// should not (tasks still answer).
func TestHealthWithoutTemporal(t *testing.T) {
	srv, err := embedded.Start(context.Background(), embedded.Config{
		FrontendAddr:     "127.0.0.1:0",
		SearchAttributes: jobs.SearchAttributes,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	env := newEnv(t, "sqlite")
	env["TEMPORAL_ADDRESS"] = srv.FrontendAddr()
	s := startService(t, env)
	s.want(t, s.do(t, "GET", "/health", nil), 200)

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	var r reply
	testclient.Eventually(t, 30*time.Second, 100*time.Millisecond, func() bool {
		r = s.do(t, "GET", "/health", nil)
		return r.status == 503
	}, func() string { return fmt.Sprintf("health with Temporal down: %d %s", r.status, r.body) })
	var h struct {
		Status string
		Checks map[string]string
	}
	r.decode(t, &h)
	if h.Status != "unhealthy" || h.Checks["temporal"] != "unhealthy" || h.Checks["database"] != "healthy" {
		t.Errorf("health: %s", r.body)
	}
	s.want(t, s.do(t, "GET", "/api/v1/tasks", nil), 200)
	// Submitting and reading jobs fail fast with 503, never hang.
	for _, req := range []struct{ method, path string }{
		{"POST", "/api/v1/tasks/" + seed + "5/$execute"},
		{"GET", "/api/v1/jobs/01K72P5N5KCRM6MD3BRE4P0999"},
		{"GET", "/api/v1/jobs"},
	} {
		if r := s.do(t, req.method, req.path, nil); r.status != 503 {
			t.Errorf("%s %s with Temporal down: %d %s", req.method, req.path, r.status, r.body)
		}
	}
	testJobOperationsWithoutTemporal(t, s)
}
