package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/workflows"
)

// FuzzDecodeTaskInput: any body either decodes to a valid task or is
// rejected with a 4xx problem; nothing panics.
func FuzzDecodeTaskInput(f *testing.F) {
	for _, seed := range []string{
		`{"command": "echo hi"}`,
		`{"command": "calculate_sum", "task_type": "python", "parameters": {"a": 10, "b": 32}, "enabled": false}`,
		`{"command": "x", "parameters": {"n": 1e400}}`,
		`{"command": "echo \u0000"}`,
		`{"command": 1, "task_type": [], "parameters": "x", "enabled": null}`,
		`[]`, `null`, `{`, ``, `"x"`, `{"command":"\xff\xfe"}`,
		`{"command": "x", "timeout_seconds": 30, "retry_policy": {"max_attempts": 1, "initial_interval_seconds": 0.5, "backoff_coefficient": 1.5, "maximum_interval_seconds": 10}}`,
		`{"command": "x", "timeout_seconds": 1e400, "retry_policy": {"initial_interval_seconds": 1e-400, "x": 1}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := decodeTaskInput(body)
		if err != nil {
			var p *problem
			if !errors.As(err, &p) || p.Status < 400 || p.Status >= 500 {
				t.Fatalf("error %v is not a 4xx problem", err)
			}
			return
		}
		if strings.TrimSpace(in.Command) == "" || strings.ContainsRune(in.Command, 0) || !utf8.ValidString(in.Command) {
			t.Fatalf("accepted command %q", in.Command)
		}
		if in.TaskType != domain.TaskTypeShell && in.TaskType != domain.TaskTypeGo && in.TaskType != domain.TaskTypePython {
			t.Fatalf("accepted task_type %q", in.TaskType)
		}
		if in.Parameters != nil && checkParameters([]byte(in.Parameters)) != "" {
			t.Fatalf("accepted parameters %s", in.Parameters)
		}
		if in.TimeoutSeconds != nil && (*in.TimeoutSeconds < 1 || *in.TimeoutSeconds > workflows.MaxTimeoutSeconds) {
			t.Fatalf("accepted timeout_seconds %d", *in.TimeoutSeconds)
		}
		if in.RetryPolicy != nil {
			var p workflows.RetryPolicy
			if err := json.Unmarshal(in.RetryPolicy, &p); err != nil || p.MaxAttempts < 1 || p.MaxAttempts > maxRetryAttempts ||
				!(p.InitialIntervalSeconds > 0) || p.BackoffCoefficient < 1 || p.MaximumIntervalSeconds < p.InitialIntervalSeconds ||
				p.MaximumIntervalSeconds > maxRetryIntervalSecs {
				t.Fatalf("accepted retry_policy %s", in.RetryPolicy)
			}
		}
	})
}

// FuzzParseQuery: any query string parses or is rejected field by field.
func FuzzParseQuery(f *testing.F) {
	for _, seed := range []string{"page=1&size=10", "page=0", "size=abc", "enabled=maybe", "page=99999999999999999999&size=1", "wait=30s", "task_id=x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		page, errs := parsePage(q)
		if len(errs) == 0 && page.given && (page.page < 1 || page.size < 1 || page.size > maxPageSize || page.offset() < 0) {
			t.Fatalf("accepted page %+v", page)
		}
		parseBoolQuery(q, "enabled")
		if d, errs := parseWait(q); len(errs) == 0 && (d < 0 || d > maxWait) {
			t.Fatalf("accepted wait %s", d)
		}
		if id, errs := parseULIDQuery(q, "task_id"); len(errs) == 0 && id != "" && len(id) != 26 {
			t.Fatalf("accepted task_id %q", id)
		}
	})
}

// FuzzTaskWrites drives POST and PUT through the real handler and SQLite:
// no body ever gets a 5xx, and a rejected body leaves the database as it was.
func FuzzTaskWrites(f *testing.F) {
	for _, seed := range []string{
		`{"command": "echo hi"}`,
		`{"command": "calculate_sum", "task_type": "python", "parameters": {"a": 1}}`,
		`{"command": "echo \u0000"}`, "{\"command\": \"\xff\"}",
		`{"command": "x", "parameters": {"n": 1e400}}`, `{"command": "x", "enabled": "no"}`,
		`{"command": ` + strings.Repeat("[", 100), `[]`, `null`, ``,
	} {
		f.Add(false, []byte(seed))
		f.Add(true, []byte(seed))
	}
	bdb := dbtest.Open(f, "sqlite")
	h := NewServer(Config{DB: bdb})
	ctx := context.Background()
	kept := &db.Task{ID: db.NewID(), Command: "echo kept", TaskType: domain.TaskTypeShell, Parameters: db.JSON(`{"k":1}`), Enabled: true, CreatedAt: db.Now(), UpdatedAt: db.Now()}
	if err := db.CreateTask(ctx, bdb, kept); err != nil {
		f.Fatal(err)
	}
	snapshot := func(tb testing.TB) string {
		tb.Helper()
		tasks, err := db.ListTasks(ctx, bdb, db.TaskFilter{})
		if err != nil {
			tb.Fatal(err)
		}
		return fmt.Sprintf("%+v", tasks)
	}
	before := snapshot(f)

	f.Fuzz(func(t *testing.T, put bool, body []byte) {
		method, path := http.MethodPost, "/api/v1/tasks"
		if put {
			method, path = http.MethodPut, "/api/v1/tasks/"+kept.ID
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, bytes.NewReader(body)))
		switch {
		case rec.Code >= 500:
			t.Fatalf("%s %q: status %d: %s", method, body, rec.Code, rec.Body)
		case rec.Code < 300:
			// Accepted: undo it so the next input starts from the same state.
			if put {
				if err := db.ReplaceTask(ctx, bdb, kept); err != nil {
					t.Fatal(err)
				}
				return
			}
			var created struct{ ID string }
			if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil {
				t.Fatal(err)
			}
			if err := db.DeleteTask(ctx, bdb, created.ID); err != nil {
				t.Fatal(err)
			}
		default:
			if after := snapshot(t); after != before {
				t.Fatalf("rejected %s %q (status %d) changed the database:\n%s\nwas\n%s", method, body, rec.Code, after, before)
			}
		}
	})
}

// FuzzRunOverrides: any $execute or $rerun body decodes to valid overrides
// or is rejected with a 4xx problem; nothing panics.
func FuzzRunOverrides(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `  `, `{"parameters": {"a": 1}}`, `{"timeout_seconds": 30}`,
		`{"parameters": null, "timeout_seconds": null}`, `{"parameters": [1]}`, `{"timeout_seconds": 0}`,
		`{"timeout_seconds": 1e400}`, `{"x": 1}`, `{`, `null`, `[]`, "\xff\xfe", `"x"`,
		strings.Repeat("[", 100_000), `{"parameters": ` + strings.Repeat(`{"a":`, 20_000),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := decodeRunOverrides(body)
		if err != nil {
			var p *problem
			if !errors.As(err, &p) || p.Status < 400 || p.Status >= 500 {
				t.Fatalf("error %v is not a 4xx problem", err)
			}
			return
		}
		if o == nil {
			return
		}
		if o.Parameters != nil && checkParameters([]byte(o.Parameters)) != "" {
			t.Fatalf("accepted parameters %s", o.Parameters)
		}
		if o.TimeoutSeconds != nil && (*o.TimeoutSeconds < 1 || *o.TimeoutSeconds > workflows.MaxTimeoutSeconds) {
			t.Fatalf("accepted timeout_seconds %d", *o.TimeoutSeconds)
		}
	})
}

// FuzzScheduleBody: any schedule create or patch body decodes to a valid
// request or is rejected with a 4xx problem; nothing panics.
func FuzzScheduleBody(f *testing.F) {
	for _, seed := range []string{
		`{"cron": "*/5 * * * *"}`, `{"interval_seconds": 60, "overlap": "skip", "paused": true}`,
		`{"run_at": "2090-01-02T03:04:05Z"}`, `{"paused": false, "trigger": true}`,
		`{"cron": "@every 1s"}`, `{"cron": "# x"}`, `{"interval_seconds": 0.5}`, `{"run_at": "yesterday"}`,
		`{"cron": "* * * * *", "interval_seconds": 1}`, `{"trigger": "yes"}`, `{"x": 1}`,
		`{`, `null`, `[]`, ``, "\xff", strings.Repeat("[", 100_000),
	} {
		f.Add(false, []byte(seed))
		f.Add(true, []byte(seed))
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, patch bool, body []byte) {
		in, err := decodeScheduleBody(body, patch, now)
		if err != nil {
			var p *problem
			if !errors.As(err, &p) || p.Status < 400 || p.Status >= 500 {
				t.Fatalf("error %v is not a 4xx problem", err)
			}
			return
		}
		if !patch && in.spec == nil {
			t.Fatalf("create accepted without a spec: %q", body)
		}
		if in.spec != nil {
			s := in.spec
			given := 0
			if s.Cron != "" {
				given++
			}
			if s.IntervalSeconds != 0 {
				given++
				if s.IntervalSeconds < 1 || s.IntervalSeconds > maxIntervalSecs {
					t.Fatalf("accepted interval %d", s.IntervalSeconds)
				}
			}
			if !s.RunAt.IsZero() {
				given++
				if !s.RunAt.After(now) || !s.RunAt.Before(maxRunAt) {
					t.Fatalf("accepted run_at %s", s.RunAt)
				}
			}
			if given != 1 {
				t.Fatalf("accepted spec %+v", *s)
			}
		}
		if in.overlap != nil && !slices.Contains(jobs.OverlapPolicies, *in.overlap) {
			t.Fatalf("accepted overlap %q", *in.overlap)
		}
	})
}
