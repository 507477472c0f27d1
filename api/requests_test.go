package api_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/api"
	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
)

func TestIdempotentTaskCreate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		c := newAPI(t, bdb)
		const body = `{"command": "echo once", "parameters": {"a": 1, "b": [1, 2]}}`
		first := c.withHeader("POST", "/api/v1/tasks", "Idempotency-Key", "create-1", body)
		expect(t, first, http.StatusCreated, "")
		id := first.Object(t)["id"].(string)
		if first.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("first create is marked replayed")
		}

		t.Run("replay", func(t *testing.T) {
			// The same request, spaced and ordered differently.
			again := c.withHeader("POST", "/api/v1/tasks", "Idempotency-Key", "create-1",
				`{"parameters":{"b":[1,2],"a":1},   "command":"echo once"}`)
			expect(t, again, http.StatusCreated, "")
			if got := again.Object(t)["id"]; got != id {
				t.Errorf("replayed create answered task %v, want %s", got, id)
			}
			if again.Header.Get("Idempotent-Replayed") != "true" || again.Header.Get("Location") != "/api/v1/tasks/"+id {
				t.Errorf("replay headers: Idempotent-Replayed %q, Location %q", again.Header.Get("Idempotent-Replayed"), again.Header.Get("Location"))
			}
			if n := countTasks(t, bdb); n != 1 {
				t.Errorf("%d tasks after a replay, want 1", n)
			}
		})

		t.Run("same key, other body", func(t *testing.T) {
			res := c.withHeader("POST", "/api/v1/tasks", "Idempotency-Key", "create-1", `{"command": "echo twice"}`)
			expect(t, res, http.StatusUnprocessableEntity, "validation-failed")
			if !strings.Contains(string(res.Body), `["header","Idempotency-Key"]`) || !strings.Contains(string(res.Body), id) {
				t.Errorf("conflict does not name the header and the task: %s", res.Body)
			}
			if n := countTasks(t, bdb); n != 1 {
				t.Errorf("%d tasks after a conflicting key, want 1", n)
			}
		})

		t.Run("bad keys", func(t *testing.T) {
			res := c.withHeader("POST", "/api/v1/tasks", "Idempotency-Key", strings.Repeat("k", 256), body)
			expect(t, res, http.StatusUnprocessableEntity, "validation-failed")
			if n := countTasks(t, bdb); n != 1 {
				t.Errorf("%d tasks after a bad key, want 1", n)
			}
		})

		t.Run("concurrent", func(t *testing.T) {
			const n = 16
			ids := make([]string, n)
			statuses := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res := c.withHeader("POST", "/api/v1/tasks", "Idempotency-Key", "race", `{"command": "echo race"}`)
					statuses[i] = res.Status
					if res.Status == http.StatusCreated {
						ids[i] = res.Object(t)["id"].(string)
					}
				}()
			}
			wg.Wait()
			for i := range n {
				if statuses[i] != http.StatusCreated || ids[i] != ids[0] {
					t.Errorf("request %d: %d task %q, want 201 with task %q", i, statuses[i], ids[i], ids[0])
				}
			}
			if got := countTasks(t, bdb); got != 2 {
				t.Errorf("%d tasks after %d concurrent creates with one key, want 2", got, n)
			}
		})

		t.Run("deleted task frees its key", func(t *testing.T) {
			expect(t, c.do("DELETE", "/api/v1/tasks/"+id, nil), http.StatusNoContent, "")
			res := c.withHeader("POST", "/api/v1/tasks", "Idempotency-Key", "create-1", body)
			expect(t, res, http.StatusCreated, "")
			if res.Object(t)["id"] == id || res.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("create after delete answered %s, want a new task", res.Body)
			}
		})
	})
}

// seedExecution stores an execution artifact of a job with one child and a
// log line, as a worker would, created at the given time.
func seedExecution(t *testing.T, bdb *bun.DB, jobID string, at time.Time) (root, child string) {
	t.Helper()
	ctx := context.Background()
	root, child = db.NewID(), db.NewID()
	run := "run-" + jobID
	at = at.UTC().Truncate(time.Microsecond)
	for _, a := range []*db.Artifact{
		{ID: root, Data: db.JSON(`{"stdout":"x"}`), JobID: &jobID, RunID: &run, StartedAt: &at, CreatedAt: at, UpdatedAt: at},
		{ID: child, ParentID: &root, Level: 1, Data: db.JSON(`{}`), CreatedAt: at, UpdatedAt: at},
	} {
		if err := db.CreateArtifact(ctx, bdb, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AppendJobLog(ctx, bdb, []db.LogChunk{{JobID: jobID, Stream: "stdout", Data: "x", CreatedAt: at}}); err != nil {
		t.Fatal(err)
	}
	return root, child
}

func TestArtifactDelete(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		c := newAPI(t, bdb)
		ctx := context.Background()
		job := db.NewID()
		root, child := seedExecution(t, bdb, job, time.Now())

		expect(t, c.do("DELETE", "/api/v1/artifacts/not-a-ulid", nil), http.StatusBadRequest, "invalid-ulid")
		expect(t, c.do("DELETE", "/api/v1/artifacts/"+db.NewID(), nil), http.StatusNotFound, "not-found")
		expect(t, c.do("DELETE", "/api/v1/artifacts/"+root, nil), http.StatusNoContent, "")
		for _, id := range []string{root, child} {
			expect(t, c.do("GET", "/api/v1/artifacts/"+id, nil), http.StatusNotFound, "not-found")
		}
		expect(t, c.do("DELETE", "/api/v1/artifacts/"+root, nil), http.StatusNotFound, "not-found")
		if end, err := db.JobLogEnd(ctx, bdb, job); err != nil || end != 0 {
			t.Errorf("job log after delete: end %d, %v; want gone", end, err)
		}
		found, err := db.JobArtifacts(ctx, bdb, []string{job})
		if err != nil {
			t.Fatal(err)
		}
		if a, ok := found[job]; !ok || a.ID != root || a.DeletedAt == nil || a.StartedAt == nil {
			t.Errorf("job record of the deleted artifact: %+v, want its id, start and deletion time", a)
		}
	})
}

func TestArtifactDeleteAccess(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		root, _ := seedExecution(t, bdb, db.NewID(), time.Now())
		readOnly := newAPIWith(t, api.Config{DB: bdb, TasksReadOnly: true})
		res := readOnly.do("DELETE", "/api/v1/artifacts/"+root, nil)
		expect(t, res, http.StatusMethodNotAllowed, "method-not-allowed")
		if res.Header.Get("Allow") != "GET" {
			t.Errorf("Allow = %q, want GET", res.Header.Get("Allow"))
		}
		keyed := newAPIWith(t, api.Config{DB: bdb, APIKeys: []string{"k-1"}})
		expect(t, keyed.do("DELETE", "/api/v1/artifacts/"+root, nil), http.StatusUnauthorized, "unauthorized")
		expect(t, keyed.withHeader("GET", "/api/v1/artifacts/"+root, "X-API-Key", "k-1", ""), http.StatusOK, "")
		expect(t, keyed.withHeader("DELETE", "/api/v1/artifacts/"+root, "X-API-Key", "k-1", ""), http.StatusNoContent, "")
	})
}

func TestHealthStorage(t *testing.T) {
	bdb := dbtest.Open(t, "sqlite")
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		minFree int64
		status  int
		overall string
		check   string
	}{
		{"enough space", 1, http.StatusOK, "healthy", "healthy"},
		{"below the minimum", 1 << 62, http.StatusServiceUnavailable, "degraded", "unhealthy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newAPI(t, bdb, api.StorageCheck(dir, tc.minFree))
			res := c.do("GET", "/health", nil)
			var h struct {
				Status string            `json:"status"`
				Checks map[string]string `json:"checks"`
				Errors map[string]string `json:"errors"`
			}
			res.Decode(t, &h)
			if res.Status != tc.status || h.Status != tc.overall || h.Checks["storage"] != tc.check || h.Checks["database"] != "healthy" {
				t.Errorf("/health = %d %s, want %d with status %s and storage %s", res.Status, res.Body, tc.status, tc.overall, tc.check)
			}
			if tc.status == http.StatusServiceUnavailable && (!strings.Contains(h.Errors["storage"], dir) || res.Header.Get("Retry-After") == "") {
				t.Errorf("/health does not name the directory or lacks Retry-After: %s", res.Body)
			}
		})
	}
}
