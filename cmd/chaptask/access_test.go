package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
)

// TestLockedDown runs the service as an operator who manages tasks in a file
// would: API keys from a file, read-only tasks, no shell. Functions from the
// file still execute; a shell task left from before is refused.
func TestLockedDown(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := newEnv(t, dialect)
			svc := startService(t, env)
			shellTask := svc.createTask(t, map[string]any{"command": "echo from before"})
			sched := svc.do(t, "POST", "/api/v1/tasks/"+shellTask+"/$schedule", map[string]any{"interval_seconds": 3600, "paused": true})
			svc.want(t, sched, 201)
			scheduleID := sched.object(t)["id"].(string)
			svc.stop()

			dir := t.TempDir()
			const sumID = "01K72P5N5KCRM6MD3BRE4P0991"
			tasksFile := filepath.Join(dir, "tasks.yaml")
			writeFile(t, tasksFile, `
tasks:
  - id: `+sumID+`
    command: calculate_sum
    task_type: python
    parameters: {a: 40, b: 2}
`)
			keysFile := filepath.Join(dir, "keys")
			writeFile(t, keysFile, "# rotated 2026-11\nfirst-key-6b1d\nsecond-key-93ce\n")
			env["CHAPTASK_TASKS_FILE"] = tasksFile
			env["CHAPTASK_API_KEYS_FILE"] = keysFile
			env["CHAPTASK_TASKS_READ_ONLY"] = "true"
			env["CHAPTASK_SHELL_ENABLED"] = "false"
			svc.start()

			svc.want(t, svc.do(t, "GET", "/health", nil), 200)
			denied := svc.do(t, "GET", "/api/v1/tasks", nil)
			svc.want(t, denied, 401)
			if denied.object(t)["type"] != "urn:chapkit:error:unauthorized" {
				t.Errorf("401 body: %s", denied.body)
			}
			svc.want(t, svc.do(t, "POST", "/api/v1/tasks/"+sumID+"/$execute", nil), 401)

			svc.apiKey = "second-key-93ce"
			svc.want(t, svc.do(t, "POST", "/api/v1/tasks", map[string]any{"command": "calculate_sum", "task_type": "go"}), 405)
			svc.want(t, svc.do(t, "DELETE", "/api/v1/tasks/"+sumID, nil), 405)
			data := svc.runTask(t, sumID)
			if result, _ := data["result"].(map[string]any); result["result"] != 42.0 {
				t.Errorf("calculate_sum from the tasks file: %v", data)
			}

			refused := svc.do(t, "POST", "/api/v1/tasks/"+shellTask+"/$execute", nil)
			svc.want(t, refused, 400)
			if !strings.Contains(string(refused.body), "shell tasks are disabled") {
				t.Errorf("refusal does not say why: %s", refused.body)
			}
			// Nor may its schedule run it.
			for _, patch := range []map[string]any{{"paused": false}, {"trigger": true}} {
				r := svc.do(t, "PATCH", "/api/v1/schedules/"+scheduleID, patch)
				svc.want(t, r, 400)
				if !strings.Contains(string(r.body), "CHAPTASK_SHELL_ENABLED=false") {
					t.Errorf("PATCH %v refusal does not name the mode: %s", patch, r.body)
				}
			}
			if got := svc.do(t, "GET", "/api/v1/schedules/"+scheduleID, nil).object(t); got["paused"] != true {
				t.Errorf("refused schedule changed: %v", got)
			}

			checkBodies(t, svc, sumID)
			checkSlowUnauthenticated(t, svc)
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkBodies sends bodies to endpoints that took none until they were
// validated, and ids that path cleaning would have turned into other routes.
func checkBodies(t *testing.T, svc *service, sumID string) {
	t.Helper()
	jobID := svc.execute(t, sumID)
	svc.waitStatus(t, jobID, "completed")
	raw := func(method, path, body string) reply {
		t.Helper()
		req, err := http.NewRequest(method, svc.base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-API-Key", svc.apiKey)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return reply{res.StatusCode, res.Header, b}
	}
	// The unpaginated list, not a page's total: that is a shared count
	// that may lag a second behind the jobs.
	jobCount := func() int {
		var all []map[string]any
		svc.do(t, "GET", "/api/v1/jobs", nil).decode(t, &all)
		return len(all)
	}
	before := jobCount()
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/api/v1/jobs/" + jobID + "/$rerun", `{"parameters": `, 400},
		{"POST", "/api/v1/jobs/" + jobID + "/$rerun", "\xff\xfe", 400},
		{"POST", "/api/v1/jobs/" + jobID + "/$rerun", strings.Repeat("[", 100_000), 400},
		{"POST", "/api/v1/jobs/" + jobID + "/$rerun", `{"priority": 1}`, 422},
		{"POST", "/api/v1/jobs/" + jobID + "/$rerun", `{"timeout_seconds": 0}`, 422},
		{"DELETE", "/api/v1/jobs/" + jobID, `{"force": true}`, 422},
		{"DELETE", "/api/v1/jobs/" + jobID, `{`, 400},
		{"DELETE", "/api/v1/schedules/" + db.NewID(), `[1]`, 422},
		{"GET", "/api/v1/tasks/..%2F..%2Fetc", "", 400},
		{"GET", "/api/v1/jobs/..%2F..%2Fhealth", "", 400},
		{"GET", "/api/v1/artifacts/..%2F..%2Ftasks", "", 400},
	} {
		r := raw(c.method, c.path, c.body)
		if r.status != c.status {
			t.Errorf("%s %s %.40q: %d %s, want %d", c.method, c.path, c.body, r.status, r.body, c.status)
		}
		if c.status == 400 && strings.Contains(c.path, "%2F") && !strings.Contains(string(r.body), "invalid-ulid") {
			t.Errorf("%s %s: %s, want invalid-ulid", c.method, c.path, r.body)
		}
	}
	if after := jobCount(); after != before {
		t.Errorf("refused bodies changed the jobs: %v before, %v after", before, after)
	}
	svc.want(t, svc.do(t, "GET", "/api/v1/jobs/"+jobID, nil), 200)

	// The documented overrides are applied over the original's snapshot.
	r := svc.do(t, "POST", "/api/v1/jobs/"+jobID+"/$rerun", map[string]any{"parameters": map[string]any{"a": 1}})
	svc.want(t, r, 202)
	rerun := svc.waitStatus(t, r.object(t)["job_id"].(string), "completed", "failed")
	if rerun.ArtifactID == nil {
		t.Fatalf("rerun %s: no artifact (%s)", rerun.ID, deref(rerun.Error))
	}
	data := svc.do(t, "GET", "/api/v1/artifacts/"+*rerun.ArtifactID, nil).object(t)["data"].(map[string]any)
	if result, _ := data["result"].(map[string]any); result["result"] != 3.0 {
		t.Errorf("rerun with a = 1 over a = 40, b = 2: %v", data["result"])
	}
	svc.want(t, raw("POST", "/api/v1/jobs/"+jobID+"/$rerun", "{}"), 202)
}

// checkSlowUnauthenticated declares a body it never sends without a key:
// the 401 comes at once instead of after the body, and the connection is
// closed.
func checkSlowUnauthenticated(t *testing.T, svc *service) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(svc.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to an unauthenticated request whose body is pending: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || !res.Close {
		t.Errorf("unauthenticated request with a pending body: %d (close %v), want 401 and the connection closed", res.StatusCode, res.Close)
	}
}
