package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/tasks"
	"github.com/chaptask/chaptask/workflows"
)

// maxParameterDepth bounds nesting in task parameters; PostgreSQL's jsonb and
// every consumer downstream are happier with sane documents.
const maxParameterDepth = 64

// taskJSON is a task on the wire. timeout_seconds and retry_policy go
// beyond chapkit's task; they are always present (null when unset), which
// chapkit's clients ignore.
type taskJSON struct {
	ID             string          `json:"id"`
	Command        string          `json:"command"`
	TaskType       string          `json:"task_type"`
	Parameters     json.RawMessage `json:"parameters"`
	Enabled        bool            `json:"enabled"`
	TimeoutSeconds *int64          `json:"timeout_seconds"`
	RetryPolicy    json.RawMessage `json:"retry_policy"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

func newTaskJSON(t *db.Task) taskJSON {
	return taskJSON{
		ID:             t.ID,
		Command:        t.Command,
		TaskType:       t.TaskType,
		Parameters:     rawOrNull(t.Parameters),
		Enabled:        t.Enabled,
		TimeoutSeconds: t.TimeoutSeconds,
		RetryPolicy:    retryPolicyJSON(t.RetryPolicy),
		CreatedAt:      t.CreatedAt.UTC(),
		UpdatedAt:      t.UpdatedAt.UTC(),
	}
}

func rawOrNull(j db.JSON) json.RawMessage {
	if j == nil {
		return json.RawMessage("null")
	}
	return json.RawMessage(j)
}

// taskInput is a validated create or full-replace request.
type taskInput struct {
	Command        string
	TaskType       string
	Parameters     db.JSON
	Enabled        bool
	TimeoutSeconds *int64
	RetryPolicy    db.JSON
}

// task is the row in holds, updated now.
func (in taskInput) task(id string) *db.Task {
	return &db.Task{
		ID:             id,
		Command:        in.Command,
		TaskType:       in.TaskType,
		Parameters:     in.Parameters,
		Enabled:        in.Enabled,
		TimeoutSeconds: in.TimeoutSeconds,
		RetryPolicy:    in.RetryPolicy,
		UpdatedAt:      db.Now(),
	}
}

// decodeTaskInput validates a task body and reports every bad field at once.
// Absent optional fields (or null) take their defaults, which is what makes
// PUT a full replace.
func decodeTaskInput(body []byte) (taskInput, error) {
	members, err := decodeObject(body)
	if err != nil {
		return taskInput{}, err
	}
	in := taskInput{TaskType: domain.TaskTypeShell, Enabled: true}
	var errs []fieldError
	bad := func(field, msg, typ string) {
		errs = append(errs, fieldError{Loc: []string{"body", field}, Msg: msg, Type: typ})
	}

	switch raw, ok := members["command"]; {
	case !ok || isNull(raw):
		bad("command", "field required", "value_error.missing")
	default:
		if err := json.Unmarshal(raw, &in.Command); err != nil {
			bad("command", "must be a string", "type_error.str")
		} else if strings.TrimSpace(in.Command) == "" {
			bad("command", "must not be empty", "value_error.empty")
		} else if strings.ContainsRune(in.Command, 0) {
			bad("command", "must not contain NUL characters", "value_error.nul")
		}
	}

	if raw, ok := members["task_type"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &in.TaskType); err != nil {
			bad("task_type", "must be a string", "type_error.str")
		} else if !slices.Contains(domain.TaskTypes, in.TaskType) {
			bad("task_type", "must be one of "+quoted(domain.TaskTypes), "value_error.enum")
		}
	}

	if raw, ok := members["parameters"]; ok && !isNull(raw) {
		if msg := checkParameters(raw); msg != "" {
			bad("parameters", msg, "type_error.dict")
		} else {
			in.Parameters = compactJSON(raw)
		}
	}

	if raw, ok := members["enabled"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &in.Enabled); err != nil {
			bad("enabled", "must be a boolean", "type_error.bool")
		}
	}

	if raw, ok := members["timeout_seconds"]; ok && !isNull(raw) {
		if n, msg := decodeInt(raw, 1, workflows.MaxTimeoutSeconds); msg != "" {
			bad("timeout_seconds", msg, "value_error.number")
		} else {
			in.TimeoutSeconds = &n
		}
	}

	if raw, ok := members["retry_policy"]; ok && !isNull(raw) {
		policy, policyErrs := decodeRetryPolicy(raw)
		errs = append(errs, policyErrs...)
		in.RetryPolicy = policy
	}

	if len(errs) > 0 {
		return taskInput{}, validationFailed(errs)
	}
	return in, nil
}

// quoted lists names as `"a", "b"`.
func quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// checkParameters returns why raw is not acceptable as task parameters, or "".
// Beyond "is an object" it rejects what PostgreSQL would refuse later (NUL in
// strings, numbers beyond float64), so bad input is a 422 and never a 500.
func checkParameters(raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "must be a JSON object"
	}
	if _, ok := v.(map[string]any); !ok {
		return "must be a JSON object or null"
	}
	return checkValue(v, 1)
}

func checkValue(v any, depth int) string {
	if depth > maxParameterDepth {
		return "nested deeper than " + strconv.Itoa(maxParameterDepth) + " levels"
	}
	switch x := v.(type) {
	case string:
		if strings.ContainsRune(x, 0) {
			return "strings must not contain NUL characters"
		}
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) {
			return "number " + truncate(string(x), 32) + " is out of range"
		}
	case []any:
		for _, e := range x {
			if msg := checkValue(e, depth+1); msg != "" {
				return msg
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.ContainsRune(k, 0) {
				return "keys must not contain NUL characters"
			}
			if msg := checkValue(e, depth+1); msg != "" {
				return msg
			}
		}
	}
	return ""
}

func compactJSON(raw json.RawMessage) db.JSON {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return db.JSON(raw) // already validated; Compact cannot fail here
	}
	return db.JSON(buf.Bytes())
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func handleTaskCreate(ts *tasks.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		in, err := decodeTaskInput(body)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		key, err := idempotencyKey(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		t := in.task(db.NewID())
		t.CreatedAt = t.UpdatedAt
		digest := ""
		if key != "" {
			digest = taskInputDigest(in)
		}
		stored, replayed, err := ts.Create(r.Context(), t, key, digest)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		w.Header().Set("Location", "/api/v1/tasks/"+stored.ID)
		if replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		encode(w, http.StatusCreated, newTaskJSON(stored))
	})
}

func handleTaskList(ts *tasks.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		enabled, enabledErr := parseBoolQuery(q, "enabled")
		page, pageErr := parsePage(q)
		if errs := collect(enabledErr, pageErr); len(errs) > 0 {
			writeError(w, r, logger, validationFailed(errs))
			return
		}
		filter := db.TaskFilter{Enabled: enabled, Limit: page.limit(), Offset: page.offset()}
		list, total, err := ts.List(r.Context(), filter, page.given)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		items := make([]taskJSON, len(list))
		for i := range list {
			items[i] = newTaskJSON(&list[i])
		}
		if !page.given {
			encode(w, http.StatusOK, items)
			return
		}
		encode(w, http.StatusOK, newPage(page, items, total))
	})
}

func handleTaskGet(ts *tasks.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathULID(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		t, err := ts.Get(r.Context(), id)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		encode(w, http.StatusOK, newTaskJSON(t))
	})
}

func handleTaskReplace(ts *tasks.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, body, err := pathIDAndBody(w, r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		in, err := decodeTaskInput(body)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		t := in.task(id)
		if err := ts.Replace(r.Context(), t); err != nil {
			writeError(w, r, logger, err)
			return
		}
		encode(w, http.StatusOK, newTaskJSON(t))
	})
}

func handleTaskDelete(ts *tasks.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathULID(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		if err := ts.Delete(r.Context(), id); err != nil {
			writeError(w, r, logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
