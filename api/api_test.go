package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/api"
	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/internal/testclient"
)

// client talks HTTP to a real server built by api.NewServer.
type client struct {
	t    *testing.T
	base string
}

// response is an answer read whole.
type response = testclient.Reply

func newAPI(t *testing.T, bdb *bun.DB, checks ...api.HealthCheck) *client {
	t.Helper()
	srv := httptest.NewServer(api.NewServer(api.Config{DB: bdb, HealthChecks: checks}))
	t.Cleanup(srv.Close)
	return &client{t: t, base: srv.URL}
}

func (c *client) do(method, path string, body any) response {
	c.t.Helper()
	return (&testclient.Client{Base: c.base}).Do(c.t, method, path, body, nil)
}

// expect fails unless res has the given status; for errors it also checks
// the problem document shape and type.
func expect(t *testing.T, res response, status int, problemType string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status = %d, want %d; body %s", res.Status, status, res.Body)
	}
	if problemType == "" {
		return
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	p := res.Object(t)
	if p["type"] != "urn:chapkit:error:"+problemType {
		t.Fatalf("type = %v, want urn:chapkit:error:%s; body %s", p["type"], problemType, res.Body)
	}
	for _, k := range []string{"title", "status", "detail", "instance"} {
		if _, ok := p[k]; !ok {
			t.Fatalf("problem lacks %q: %s", k, res.Body)
		}
	}
	if int(p["status"].(float64)) != status {
		t.Fatalf("problem status = %v, want %d", p["status"], status)
	}
	if status == http.StatusUnprocessableEntity {
		checkFastAPIDetail(t, res.Body)
	}
}

// checkFastAPIDetail fails unless a 422's detail is FastAPI's list of
// {"loc", "msg", "type"}, which chapkit clients index as
// body["detail"][0]["loc"].
func checkFastAPIDetail(t *testing.T, body []byte) {
	t.Helper()
	var p struct {
		Detail []map[string]json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(body, &p); err != nil || len(p.Detail) == 0 {
		t.Fatalf("422 detail is not a non-empty list (%v): %s", err, body)
	}
	for _, e := range p.Detail {
		var loc []string
		var msg, typ string
		if len(e) != 3 || json.Unmarshal(e["loc"], &loc) != nil || json.Unmarshal(e["msg"], &msg) != nil ||
			json.Unmarshal(e["type"], &typ) != nil || len(loc) == 0 || msg == "" || typ == "" {
			t.Fatalf("422 detail entry %v is not {loc: [...], msg, type}: %s", e, body)
		}
		switch loc[0] {
		case "body", "query", "path", "header":
		default:
			t.Fatalf("422 detail loc %v starts with %q: %s", loc, loc[0], body)
		}
	}
}

func (c *client) createTask(body any) map[string]any {
	c.t.Helper()
	res := c.do("POST", "/api/v1/tasks", body)
	expect(c.t, res, http.StatusCreated, "")
	return res.Object(c.t)
}

func countTasks(t *testing.T, bdb *bun.DB) int {
	t.Helper()
	n, err := db.CountTasks(context.Background(), bdb, db.TaskFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTaskLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		c := newAPI(t, bdb)

		res := c.do("POST", "/api/v1/tasks", `{"command": "echo \"Hello World\""}`)
		expect(t, res, http.StatusCreated, "")
		task := res.Object(t)
		id := task["id"].(string)
		if loc := res.Header.Get("Location"); loc != "/api/v1/tasks/"+id {
			t.Errorf("Location = %q", loc)
		}
		want := map[string]any{"command": `echo "Hello World"`, "task_type": "shell", "parameters": nil, "enabled": true}
		for k, v := range want {
			if task[k] != v {
				t.Errorf("%s = %#v, want %#v", k, task[k], v)
			}
		}
		for _, k := range []string{"created_at", "updated_at"} {
			s, _ := task[k].(string)
			if !strings.HasSuffix(s, "Z") {
				t.Errorf("%s = %q, want RFC 3339 UTC", k, s)
			}
		}

		got := c.do("GET", "/api/v1/tasks/"+id, nil)
		expect(t, got, http.StatusOK, "")
		if !bytes.Equal(got.Body, res.Body) {
			t.Errorf("GET = %s, want the created task %s", got.Body, res.Body)
		}
		// Lower-case ULIDs name the same task.
		expect(t, c.do("GET", "/api/v1/tasks/"+strings.ToLower(id), nil), http.StatusOK, "")

		put := c.do("PUT", "/api/v1/tasks/"+id, map[string]any{
			"command": "calculate_sum", "task_type": "python", "parameters": map[string]any{"a": 1, "b": 2}, "enabled": false,
		})
		expect(t, put, http.StatusOK, "")
		updated := put.Object(t)
		if updated["task_type"] != "python" || updated["enabled"] != false || updated["created_at"] != task["created_at"] {
			t.Errorf("after PUT: %s", put.Body)
		}
		if p, _ := updated["parameters"].(map[string]any); p["a"] != 1.0 {
			t.Errorf("parameters = %v", updated["parameters"])
		}

		// PUT is a full replace: omitted fields go back to their defaults.
		put = c.do("PUT", "/api/v1/tasks/"+id, map[string]any{"command": "date"})
		expect(t, put, http.StatusOK, "")
		replaced := put.Object(t)
		if replaced["task_type"] != "shell" || replaced["parameters"] != nil || replaced["enabled"] != true {
			t.Errorf("after full replace: %s", put.Body)
		}

		expect(t, c.do("DELETE", "/api/v1/tasks/"+id, nil), http.StatusNoContent, "")
		expect(t, c.do("GET", "/api/v1/tasks/"+id, nil), http.StatusNotFound, "not-found")
		expect(t, c.do("DELETE", "/api/v1/tasks/"+id, nil), http.StatusNotFound, "not-found")
		expect(t, c.do("PUT", "/api/v1/tasks/"+id, map[string]any{"command": "x"}), http.StatusNotFound, "not-found")
	})
}

// TestTaskLimits covers timeout_seconds and retry_policy: always in the
// response (null when unset), defaults filled in, reset by a PUT that omits
// them, and errors that name the nested field.
func TestTaskLimits(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		c := newAPI(t, bdb)

		plain := c.createTask(map[string]any{"command": "echo"})
		for _, k := range []string{"timeout_seconds", "retry_policy"} {
			if v, ok := plain[k]; !ok || v != nil {
				t.Errorf("task without limits: %s = %v (present %v), want null", k, v, ok)
			}
		}

		res := c.do("POST", "/api/v1/tasks", `{"command": "sleep 5", "timeout_seconds": 60, "retry_policy": {"max_attempts": 2, "initial_interval_seconds": 0.5}}`)
		expect(t, res, http.StatusCreated, "")
		task := res.Object(t)
		id := task["id"].(string)
		if task["timeout_seconds"] != 60.0 {
			t.Errorf("timeout_seconds = %v", task["timeout_seconds"])
		}
		wantPolicy := `{"max_attempts":2,"initial_interval_seconds":0.5,"backoff_coefficient":2,"maximum_interval_seconds":30}`
		if got, _ := json.Marshal(task["retry_policy"]); string(got) != sortedJSON(t, wantPolicy) {
			t.Errorf("retry_policy = %s, want %s", got, wantPolicy)
		}
		if !bytes.Contains(res.Body, []byte(wantPolicy)) {
			t.Errorf("retry_policy members out of order: %s", res.Body)
		}
		if got := c.do("GET", "/api/v1/tasks/"+id, nil); !bytes.Equal(got.Body, res.Body) {
			t.Errorf("GET = %s, want %s", got.Body, res.Body)
		}

		// An integral float is an integer; the default cap never undercuts
		// a longer first interval.
		put := c.do("PUT", "/api/v1/tasks/"+id, `{"command": "sleep 5", "timeout_seconds": 604800.0, "retry_policy": {"initial_interval_seconds": 60, "backoff_coefficient": 1}}`)
		expect(t, put, http.StatusOK, "")
		if !bytes.Contains(put.Body, []byte(`"timeout_seconds":604800,"retry_policy":{"max_attempts":5,"initial_interval_seconds":60,"backoff_coefficient":1,"maximum_interval_seconds":60}`)) {
			t.Errorf("after PUT: %s", put.Body)
		}

		// PUT is a full replace: omitted limits are gone, and so are nulls.
		for _, body := range []string{`{"command": "sleep 5"}`, `{"command": "sleep 5", "timeout_seconds": null, "retry_policy": null}`} {
			put = c.do("PUT", "/api/v1/tasks/"+id, body)
			expect(t, put, http.StatusOK, "")
			if !bytes.Contains(put.Body, []byte(`"timeout_seconds":null,"retry_policy":null`)) {
				t.Errorf("PUT %s: %s", body, put.Body)
			}
		}

		res = c.do("POST", "/api/v1/tasks", `{"command": "x", "retry_policy": {"max_attempts": 0, "backoff_coefficient": "2", "colour": "red"}}`)
		expect(t, res, 422, "validation-failed")
		var p struct{ Detail []struct{ Loc []string } }
		res.Decode(t, &p)
		var named []string
		for _, e := range p.Detail {
			named = append(named, strings.Join(e.Loc, "."))
		}
		for _, name := range []string{"body.retry_policy.max_attempts", "body.retry_policy.backoff_coefficient", "body.retry_policy.colour"} {
			if !slices.Contains(named, name) {
				t.Errorf("detail %v does not name %s", named, name)
			}
		}
	})
}

// sortedJSON re-encodes a JSON object with its keys sorted.
func sortedJSON(t *testing.T, s string) string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func TestTaskTypes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		c := newAPI(t, bdb)
		for _, typ := range []string{"shell", "go", "python"} {
			task := c.createTask(map[string]any{"command": "x", "task_type": typ, "parameters": map[string]any{}})
			if task["task_type"] != typ {
				t.Errorf("task_type %q echoed as %v", typ, task["task_type"])
			}
		}
	})
}

func TestTaskValidation(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100)
	tooDeepForJSON := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	cases := []struct {
		name   string
		body   string
		status int
		typ    string
		fields []string
	}{
		{"missing command", `{}`, 422, "validation-failed", []string{"command"}},
		{"null command", `{"command": null}`, 422, "validation-failed", []string{"command"}},
		{"empty command", `{"command": ""}`, 422, "validation-failed", []string{"command"}},
		{"blank command", `{"command": "   "}`, 422, "validation-failed", []string{"command"}},
		{"command not a string", `{"command": 42}`, 422, "validation-failed", []string{"command"}},
		{"NUL in command", `{"command": "echo \u0000"}`, 422, "validation-failed", []string{"command"}},
		{"unknown task_type", `{"command": "x", "task_type": "perl"}`, 422, "validation-failed", []string{"task_type"}},
		{"task_type not a string", `{"command": "x", "task_type": 1}`, 422, "validation-failed", []string{"task_type"}},
		{"parameters array", `{"command": "x", "parameters": [1]}`, 422, "validation-failed", []string{"parameters"}},
		{"parameters string", `{"command": "x", "parameters": "a=1"}`, 422, "validation-failed", []string{"parameters"}},
		{"parameters NUL", `{"command": "x", "parameters": {"s": "a\u0000b"}}`, 422, "validation-failed", []string{"parameters"}},
		{"parameters huge number", `{"command": "x", "parameters": {"n": 1e400}}`, 422, "validation-failed", []string{"parameters"}},
		{"parameters too deep", `{"command": "x", "parameters": ` + deep + `}`, 422, "validation-failed", []string{"parameters"}},
		{"enabled not a bool", `{"command": "x", "enabled": "yes"}`, 422, "validation-failed", []string{"enabled"}},
		{"timeout zero", `{"command": "x", "timeout_seconds": 0}`, 422, "validation-failed", []string{"timeout_seconds"}},
		{"timeout negative", `{"command": "x", "timeout_seconds": -5}`, 422, "validation-failed", []string{"timeout_seconds"}},
		{"timeout past 7 days", `{"command": "x", "timeout_seconds": 604801}`, 422, "validation-failed", []string{"timeout_seconds"}},
		{"timeout fractional", `{"command": "x", "timeout_seconds": 1.5}`, 422, "validation-failed", []string{"timeout_seconds"}},
		{"timeout string", `{"command": "x", "timeout_seconds": "10"}`, 422, "validation-failed", []string{"timeout_seconds"}},
		{"timeout boolean", `{"command": "x", "timeout_seconds": true}`, 422, "validation-failed", []string{"timeout_seconds"}},
		{"timeout huge", `{"command": "x", "timeout_seconds": 1e400}`, 422, "validation-failed", []string{"timeout_seconds"}},
		{"retry policy not an object", `{"command": "x", "retry_policy": 3}`, 422, "validation-failed", []string{"retry_policy"}},
		{"retry policy array", `{"command": "x", "retry_policy": []}`, 422, "validation-failed", []string{"retry_policy"}},
		{"retry zero attempts", `{"command": "x", "retry_policy": {"max_attempts": 0}}`, 422, "validation-failed", []string{"retry_policy"}},
		{"retry too many attempts", `{"command": "x", "retry_policy": {"max_attempts": 101}}`, 422, "validation-failed", []string{"retry_policy"}},
		{"retry attempts fractional", `{"command": "x", "retry_policy": {"max_attempts": 2.5}}`, 422, "validation-failed", []string{"retry_policy"}},
		{"retry zero interval", `{"command": "x", "retry_policy": {"initial_interval_seconds": 0}}`, 422, "validation-failed", []string{"retry_policy"}},
		{"retry interval string", `{"command": "x", "retry_policy": {"initial_interval_seconds": "1"}}`, 422, "validation-failed", []string{"retry_policy"}},
		{"retry interval past a day", `{"command": "x", "retry_policy": {"initial_interval_seconds": 86401}}`, 422, "validation-failed", []string{"retry_policy"}},
		{"retry backoff below 1", `{"command": "x", "retry_policy": {"backoff_coefficient": 0.5}}`, 422, "validation-failed", []string{"retry_policy"}},
		{"retry maximum below initial", `{"command": "x", "retry_policy": {"initial_interval_seconds": 10, "maximum_interval_seconds": 5}}`, 422, "validation-failed", []string{"retry_policy"}},
		{"retry unknown member", `{"command": "x", "retry_policy": {"max_attempt": 1}}`, 422, "validation-failed", []string{"retry_policy"}},
		{"every field bad", `{"command": 1, "task_type": "x", "parameters": 2, "enabled": 3, "timeout_seconds": "x", "retry_policy": "x"}`, 422, "validation-failed",
			[]string{"command", "task_type", "parameters", "enabled", "timeout_seconds", "retry_policy"}},
		{"body array", `[{"command": "x"}]`, 422, "validation-failed", nil},
		{"body null", `null`, 422, "validation-failed", nil},
		{"malformed JSON", `{"command": `, 400, "bad-request", nil},
		{"trailing garbage", `{"command": "x"} {}`, 400, "bad-request", nil},
		{"empty body", ``, 400, "bad-request", nil},
		{"nested beyond the JSON decoder", tooDeepForJSON, 400, "bad-request", nil},
		{"over 1 MiB", `{"command": "` + strings.Repeat("x", 1<<20) + `"}`, 413, "payload-too-large", nil},
	}
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		c := newAPI(t, bdb)
		existing := c.createTask(map[string]any{"command": "echo keep", "parameters": map[string]any{"k": 1}})
		id := existing["id"].(string)
		before := c.do("GET", "/api/v1/tasks/"+id, nil).Body
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				for _, method := range []string{"POST", "PUT"} {
					path := "/api/v1/tasks"
					if method == "PUT" {
						path += "/" + id
					}
					res := c.do(method, path, tc.body)
					expect(t, res, tc.status, tc.typ)
					if len(tc.fields) > 0 {
						var p struct {
							Detail []struct{ Loc []string }
							Errors []struct{ Loc []string }
						}
						res.Decode(t, &p)
						for _, f := range tc.fields {
							found, listed := false, false
							for _, e := range p.Detail {
								found = found || (len(e.Loc) >= 2 && e.Loc[1] == f)
							}
							for _, e := range p.Errors {
								listed = listed || (len(e.Loc) >= 2 && e.Loc[1] == f)
							}
							if !found || !listed {
								t.Errorf("%s: error does not name %q: %s", method, f, res.Body)
							}
						}
					}
				}
				if n := countTasks(t, bdb); n != 1 {
					t.Errorf("rejected input changed the task count to %d", n)
				}
				if after := c.do("GET", "/api/v1/tasks/"+id, nil).Body; !bytes.Equal(after, before) {
					t.Errorf("rejected PUT changed the task: %s", after)
				}
			})
		}
	})
}

func TestTaskList(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		c := newAPI(t, bdb)
		var ids []string
		for i := range 5 {
			task := c.createTask(map[string]any{"command": "echo", "enabled": i%2 == 0})
			ids = append(ids, task["id"].(string))
		}

		var all []map[string]any
		res := c.do("GET", "/api/v1/tasks", nil)
		expect(t, res, 200, "")
		res.Decode(t, &all)
		if len(all) != 5 || all[0]["id"] != ids[4] || all[4]["id"] != ids[0] {
			t.Fatalf("list is not newest first: %s", res.Body)
		}

		for _, tc := range []struct {
			query string
			n     int
		}{{"enabled=true", 3}, {"enabled=false", 2}, {"enabled=1", 3}, {"enabled=False", 2}} {
			var got []map[string]any
			c.do("GET", "/api/v1/tasks?"+tc.query, nil).Decode(t, &got)
			if len(got) != tc.n {
				t.Errorf("?%s: %d tasks, want %d", tc.query, len(got), tc.n)
			}
		}

		var page struct {
			Items                    []map[string]any
			Total, Page, Size, Pages int
		}
		res = c.do("GET", "/api/v1/tasks?page=2&size=2", nil)
		expect(t, res, 200, "")
		res.Decode(t, &page)
		if page.Total != 5 || page.Page != 2 || page.Size != 2 || page.Pages != 3 || len(page.Items) != 2 || page.Items[0]["id"] != ids[2] {
			t.Errorf("page 2 of 2: %s", res.Body)
		}
		c.do("GET", "/api/v1/tasks?page=1&size=10&enabled=false", nil).Decode(t, &page)
		if page.Total != 2 || len(page.Items) != 2 || page.Pages != 1 {
			t.Errorf("filtered page: %+v", page)
		}
		c.do("GET", "/api/v1/tasks?page=9&size=10", nil).Decode(t, &page)
		if page.Total != 5 || len(page.Items) != 0 {
			t.Errorf("page past the end: %+v", page)
		}

		for _, q := range []string{"page=0&size=10", "page=1&size=0", "page=1&size=101", "page=1&size=abc", "page=x", "size=-1", "enabled=maybe", "page=99999999999999999999&size=1"} {
			expect(t, c.do("GET", "/api/v1/tasks?"+q, nil), 422, "validation-failed")
		}
	})
}

func TestInvalidIDs(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		c := newAPI(t, bdb)
		long := strings.Repeat("0", 10_000)
		for _, id := range []string{"invalid-id", "01K72P5N5KCRM6MD3BRE4P099", "81K72P5N5KCRM6MD3BRE4P0999", "01K72P5N5KCRM6MD3BRE4P09I!", long} {
			for _, req := range []struct{ method, path string }{
				{"GET", "/api/v1/tasks/" + id},
				{"PUT", "/api/v1/tasks/" + id},
				{"DELETE", "/api/v1/tasks/" + id},
				{"GET", "/api/v1/artifacts/" + id},
				{"GET", "/api/v1/artifacts/" + id + "/$tree"},
				{"GET", "/api/v1/artifacts/" + id + "/$expand"},
			} {
				res := c.do(req.method, req.path, `{"command": "x"}`)
				expect(t, res, 400, "invalid-ulid")
				if len(res.Body) > 1000 {
					t.Errorf("%s %s: the error echoes the whole id (%d bytes)", req.method, req.path[:30], len(res.Body))
				}
			}
		}
		unknown := "01K72P5N5KCRM6MD3BRE4P0999"
		res := c.do("GET", "/api/v1/tasks/"+unknown, nil)
		expect(t, res, 404, "not-found")
		if d := res.Object(t)["detail"]; d != "Task "+unknown+" not found" {
			t.Errorf("detail = %v", d)
		}
		expect(t, c.do("GET", "/api/v1/artifacts/"+unknown, nil), 404, "not-found")
		expect(t, c.do("GET", "/api/v1/nothing-here", nil), 404, "not-found")
		expect(t, c.do("PATCH", "/api/v1/tasks", nil), 405, "method-not-allowed")
	})
}

// insertArtifact stores an artifact through db, as execution will.
func insertArtifact(t *testing.T, bdb *bun.DB, parent *db.Artifact, level int, taskID string, data string) *db.Artifact {
	t.Helper()
	now := db.Now()
	a := &db.Artifact{ID: db.NewID(), Level: level, Data: db.JSON(data), CreatedAt: now, UpdatedAt: now}
	if parent != nil {
		a.ParentID = &parent.ID
	}
	if taskID != "" {
		a.TaskID = &taskID
	}
	if err := db.CreateArtifact(context.Background(), bdb, a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestArtifacts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		c := newAPI(t, bdb)
		task := c.createTask(map[string]any{"command": "echo hi"})
		taskID := task["id"].(string)
		root := insertArtifact(t, bdb, nil, 0, taskID, `{"task": {"id": "`+taskID+`"}, "stdout": "hi\n", "stderr": "", "exit_code": 0}`)
		child := insertArtifact(t, bdb, root, 1, "", `{"part": 1}`)
		grandchild := insertArtifact(t, bdb, child, 2, "", `{"part": 2}`)
		other := insertArtifact(t, bdb, nil, 0, db.NewID(), `{"other": true}`)

		var list []map[string]any
		res := c.do("GET", "/api/v1/artifacts", nil)
		expect(t, res, 200, "")
		res.Decode(t, &list)
		if len(list) != 4 || list[0]["id"] != other.ID {
			t.Fatalf("list: %s", res.Body)
		}

		c.do("GET", "/api/v1/artifacts?task_id="+taskID, nil).Decode(t, &list)
		if len(list) != 1 || list[0]["id"] != root.ID {
			t.Errorf("?task_id: %v", list)
		}
		expect(t, c.do("GET", "/api/v1/artifacts?task_id=nope", nil), 422, "validation-failed")

		var page struct {
			Items []map[string]any
			Total int
			Pages int
		}
		c.do("GET", "/api/v1/artifacts?page=1&size=3", nil).Decode(t, &page)
		if page.Total != 4 || len(page.Items) != 3 || page.Pages != 2 {
			t.Errorf("page: %+v", page)
		}
		expect(t, c.do("GET", "/api/v1/artifacts?page=1&size=1000", nil), 422, "validation-failed")

		got := c.do("GET", "/api/v1/artifacts/"+root.ID, nil).Object(t)
		data := got["data"].(map[string]any)
		if got["parent_id"] != nil || got["level"] != 0.0 || data["stdout"] != "hi\n" {
			t.Errorf("artifact: %v", got)
		}
		if c := c.do("GET", "/api/v1/artifacts/"+child.ID, nil).Object(t); c["parent_id"] != root.ID {
			t.Errorf("child parent_id = %v", c["parent_id"])
		}

		expanded := c.do("GET", "/api/v1/artifacts/"+root.ID+"/$expand", nil).Object(t)
		if expanded["level_label"] != "execution" {
			t.Errorf("$expand level_label = %v", expanded["level_label"])
		}
		if _, ok := expanded["children"]; ok {
			t.Errorf("$expand has children: %v", expanded)
		}

		type node struct {
			ID         string
			LevelLabel *string `json:"level_label"`
			Children   []node
		}
		var tree node
		res = c.do("GET", "/api/v1/artifacts/"+root.ID+"/$tree", nil)
		expect(t, res, 200, "")
		res.Decode(t, &tree)
		if tree.ID != root.ID || tree.LevelLabel == nil || *tree.LevelLabel != "execution" ||
			len(tree.Children) != 1 || tree.Children[0].ID != child.ID ||
			len(tree.Children[0].Children) != 1 || tree.Children[0].Children[0].ID != grandchild.ID {
			t.Fatalf("tree: %s", res.Body)
		}
		if !bytes.Contains(res.Body, []byte(`"children":[]`)) {
			t.Errorf("leaf lacks children: []: %s", res.Body)
		}
		leaf := c.do("GET", "/api/v1/artifacts/"+other.ID+"/$tree", nil).Object(t)
		if ch, ok := leaf["children"].([]any); !ok || len(ch) != 0 {
			t.Errorf("leaf tree children = %v", leaf["children"])
		}

		// Deleting the task keeps its artifacts.
		expect(t, c.do("DELETE", "/api/v1/tasks/"+taskID, nil), 204, "")
		expect(t, c.do("GET", "/api/v1/artifacts/"+root.ID, nil), 200, "")
		c.do("GET", "/api/v1/artifacts?task_id="+taskID, nil).Decode(t, &list)
		if len(list) != 1 {
			t.Errorf("artifacts of a deleted task: %v", list)
		}
	})
}

func TestHealth(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		c := newAPI(t, bdb)
		res := c.do("GET", "/health", nil)
		expect(t, res, 200, "")
		var h struct {
			Status string
			Checks map[string]string
		}
		res.Decode(t, &h)
		if h.Status != "healthy" || h.Checks["database"] != "healthy" {
			t.Errorf("health: %s", res.Body)
		}

		failing := newAPI(t, bdb, api.HealthCheck{Name: "temporal", Check: func(context.Context) error {
			return errors.New("frontend unreachable")
		}})
		res = failing.do("GET", "/health", nil)
		expect(t, res, 503, "")
		res.Decode(t, &h)
		if h.Status != "unhealthy" || h.Checks["temporal"] != "unhealthy" || h.Checks["database"] != "healthy" {
			t.Errorf("unhealthy: %s", res.Body)
		}
	})
}

func TestDatabaseDown(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		c := newAPI(t, bdb)
		bdb.Close()
		res := c.do("GET", "/health", nil)
		expect(t, res, 503, "")
		if !strings.Contains(string(res.Body), `"database":"unhealthy"`) {
			t.Errorf("health with a closed database: %s", res.Body)
		}
	})
}

func TestFunctionsWithoutRegistry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		res := newAPI(t, bdb).do("GET", "/api/v1/functions", nil)
		expect(t, res, 200, "")
		if strings.TrimSpace(string(res.Body)) != "[]" {
			t.Errorf("functions = %s", res.Body)
		}
	})
}

// TestValidationDetailChapkit: the seed's own example. POST /api/v1/tasks
// with {} answers exactly FastAPI's detail list.
func TestValidationDetailChapkit(t *testing.T) {
	c := newAPI(t, dbtest.Open(t, "sqlite"))
	res := c.do("POST", "/api/v1/tasks", `{}`)
	expect(t, res, http.StatusUnprocessableEntity, "validation-failed")
	var p struct {
		Detail json.RawMessage `json:"detail"`
	}
	res.Decode(t, &p)
	want := `[{"loc":["body","command"],"msg":"field required","type":"value_error.missing"}]`
	if string(p.Detail) != want {
		t.Errorf("detail = %s, want %s", p.Detail, want)
	}
	// Query parameters, artifacts included, answer the same shape.
	for _, path := range []string{"/api/v1/tasks?enabled=maybe", "/api/v1/tasks?page=0&size=3", "/api/v1/artifacts?task_id=nope"} {
		res := c.do("GET", path, nil)
		expect(t, res, http.StatusUnprocessableEntity, "validation-failed")
		var q struct {
			Detail []struct{ Loc []string }
		}
		res.Decode(t, &q)
		if q.Detail[0].Loc[0] != "query" {
			t.Errorf("%s: detail %v does not locate the query", path, q.Detail)
		}
	}
}

// TestTrailingSlashRedirect: like FastAPI, a path that differs from a route
// by one trailing slash is redirected (307, query kept); others stay 404.
func TestTrailingSlashRedirect(t *testing.T) {
	c := newAPI(t, dbtest.Open(t, "sqlite"))
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	id := c.createTask(map[string]any{"command": "echo slash"})["id"].(string)
	for _, tc := range []struct{ method, path, location string }{
		{"GET", "/api/v1/tasks/", "/api/v1/tasks"},
		{"GET", "/api/v1/tasks/?enabled=true&page=1&size=10", "/api/v1/tasks?enabled=true&page=1&size=10"},
		{"POST", "/api/v1/tasks/", "/api/v1/tasks"},
		{"GET", "/api/v1/jobs/?status_filter=completed", "/api/v1/jobs?status_filter=completed"},
		{"GET", "/api/v1/artifacts/", "/api/v1/artifacts"},
		{"GET", "/api/v1/functions/", "/api/v1/functions"},
		{"GET", "/api/v1/tasks/" + id + "/", "/api/v1/tasks/" + id},
		{"GET", "/api/v1/tasks/" + id + "/$schedules/", "/api/v1/tasks/" + id + "/$schedules"},
		{"GET", "/health/", "/health"},
	} {
		req, err := http.NewRequest(tc.method, c.base+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusTemporaryRedirect || res.Header.Get("Location") != tc.location {
			t.Errorf("%s %s: %d Location %q, want 307 %q", tc.method, tc.path, res.StatusCode, res.Header.Get("Location"), tc.location)
		}
	}
	for _, path := range []string{"/api/v1/nothing/", "/api/v1/tasks/" + id + "/$nothing/"} {
		expect(t, c.do("GET", path, nil), http.StatusNotFound, "not-found")
	}
	// A client that follows redirects gets the list, and a POST still
	// creates (307 keeps the method and body).
	var list []map[string]any
	res := c.do("GET", "/api/v1/tasks/", nil)
	expect(t, res, http.StatusOK, "")
	res.Decode(t, &list)
	if len(list) != 1 {
		t.Errorf("GET /api/v1/tasks/ followed: %s", res.Body)
	}
	expect(t, c.do("POST", "/api/v1/tasks/", `{"command": "echo followed"}`), http.StatusCreated, "")
}
