package api_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/api"
	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/internal/testclient"
)

func newAPIWith(t *testing.T, cfg api.Config) *client {
	t.Helper()
	srv := httptest.NewServer(api.NewServer(cfg))
	t.Cleanup(srv.Close)
	return &client{t: t, base: srv.URL}
}

// withHeader sends one request with an extra header, none when value is
// empty.
func (c *client) withHeader(method, path, name, value string, body string) response {
	c.t.Helper()
	header := http.Header{}
	if value != "" {
		header.Set(name, value)
	}
	return (&testclient.Client{Base: c.base}).Do(c.t, method, path, body, header)
}

func TestAPIKeys(t *testing.T) {
	const keyA, keyB = "key-a-3f9c1e", "key-b-77d2aa"
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c := newAPIWith(t, api.Config{DB: bdb, Logger: logger, APIKeys: []string{keyA, keyB}})

		for _, path := range []string{"/api/v1/tasks", "/api/v1/artifacts", "/api/v1/functions", "/api/v1/nothing"} {
			res := c.withHeader("GET", path, "X-API-Key", "", "")
			expect(t, res, 401, "unauthorized")
			res = c.withHeader("GET", path, "X-API-Key", keyA+"x", "")
			expect(t, res, 401, "unauthorized")
			if bytes.Contains(res.Body, []byte(keyA)) {
				t.Errorf("the 401 echoes the key: %s", res.Body)
			}
		}
		res := c.withHeader("POST", "/api/v1/tasks", "X-API-Key", "", `{"command": "echo hi"}`)
		expect(t, res, 401, "unauthorized")
		if n := countTasks(t, bdb); n != 0 {
			t.Fatalf("an unauthorised POST created %d tasks", n)
		}

		expect(t, c.withHeader("GET", "/health", "X-API-Key", "", ""), 200, "")
		expect(t, c.withHeader("GET", "/api/v1/tasks", "X-API-Key", keyA, ""), 200, "")
		expect(t, c.withHeader("POST", "/api/v1/tasks", "X-API-Key", keyB, `{"command": "echo hi"}`), 201, "")
		expect(t, c.withHeader("GET", "/api/v1/tasks", "x-api-key", keyB, ""), 200, "")

		if strings.Contains(logs.String(), "key-") {
			t.Errorf("a key reached the logs:\n%s", logs.String())
		}
	})
}

func TestReadOnlyTasks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		writable := newAPI(t, bdb)
		id := writable.createTask(map[string]any{"command": "echo kept"})["id"].(string)
		before := writable.do("GET", "/api/v1/tasks/"+id, nil).Body

		c := newAPIWith(t, api.Config{DB: bdb, TasksReadOnly: true})
		for _, req := range []struct{ method, path string }{
			{"POST", "/api/v1/tasks"},
			{"PUT", "/api/v1/tasks/" + id},
			{"DELETE", "/api/v1/tasks/" + id},
		} {
			res := c.do(req.method, req.path, `{"command": "echo changed"}`)
			expect(t, res, 405, "method-not-allowed")
			if allow := res.Header.Get("Allow"); allow != "GET" {
				t.Errorf("%s %s: Allow = %q", req.method, req.path, allow)
			}
		}
		expect(t, c.do("GET", "/api/v1/tasks", nil), 200, "")
		if after := c.do("GET", "/api/v1/tasks/"+id, nil).Body; !bytes.Equal(before, after) {
			t.Errorf("read-only API changed the task: %s", after)
		}
		if n := countTasks(t, bdb); n != 1 {
			t.Errorf("read-only API changed the task count to %d", n)
		}
	})
}

func TestShellDisabled(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		c := newAPIWith(t, api.Config{DB: bdb, ShellDisabled: true})
		for _, body := range []string{`{"command": "echo hi"}`, `{"command": "echo hi", "task_type": "shell"}`} {
			res := c.do("POST", "/api/v1/tasks", body)
			expect(t, res, 422, "validation-failed")
			if !strings.Contains(string(res.Body), `"loc":["body","task_type"]`) {
				t.Errorf("detail does not name task_type: %s", res.Body)
			}
		}
		fn := c.createTask(map[string]any{"command": "calculate_sum", "task_type": "go"})
		res := c.do("PUT", "/api/v1/tasks/"+fn["id"].(string), `{"command": "rm -rf /"}`)
		expect(t, res, 422, "validation-failed")
		if n := countTasks(t, bdb); n != 1 {
			t.Errorf("%d tasks, want only the function task", n)
		}
	})
}

func TestInvalidUTF8(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		c := newAPI(t, bdb)
		id := c.createTask(map[string]any{"command": "echo kept"})["id"].(string)
		for _, body := range []string{"{\"command\": \"echo \xff\xfe\"}", "{\"command\": \"x\", \"parameters\": {\"\xc3\": 1}}"} {
			expect(t, c.do("POST", "/api/v1/tasks", body), 400, "bad-request")
			expect(t, c.do("PUT", "/api/v1/tasks/"+id, body), 400, "bad-request")
		}
		if n := countTasks(t, bdb); n != 1 {
			t.Errorf("invalid UTF-8 changed the task count to %d", n)
		}
	})
}

// TestConcurrentReplace: simultaneous full replaces of one task all succeed
// and the task ends as exactly one of them, never a mix.
func TestConcurrentReplace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		c := newAPI(t, bdb)
		id := c.createTask(map[string]any{"command": "echo start"})["id"].(string)
		const writers = 20
		statuses := make([]int, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				body := fmt.Sprintf(`{"command": "echo %d", "parameters": {"writer": %d}}`, i, i)
				req, err := http.NewRequest("PUT", c.base+"/api/v1/tasks/"+id, strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				statuses[i] = res.StatusCode
			})
		}
		wg.Wait()
		for i, s := range statuses {
			if s != 200 {
				t.Errorf("writer %d: status %d", i, s)
			}
		}
		var got struct {
			Command    string
			Parameters struct{ Writer int }
		}
		c.do("GET", "/api/v1/tasks/"+id, nil).Decode(t, &got)
		if got.Command != fmt.Sprintf("echo %d", got.Parameters.Writer) {
			t.Errorf("command %q with parameters of writer %d: a mix of two writes", got.Command, got.Parameters.Writer)
		}
	})
}

// TestClientGoneIsNotAnError: a request whose client left is logged at
// debug, not as a failed request.
func TestClientGoneIsNotAnError(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		h := api.NewServer(api.Config{DB: bdb, Logger: logger})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/tasks", nil).WithContext(ctx))
		if rec.Code < 400 || rec.Code == 500 {
			t.Errorf("status %d for a request whose client left", rec.Code)
		}
		if strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("a client that left was logged as an error:\n%s", logs.String())
		}
	})
}
