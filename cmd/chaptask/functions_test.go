package main

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/registry"
)

func newExampleRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	reg := registry.New()
	if err := registerExampleFunctions(reg); err != nil {
		t.Fatalf("registerExampleFunctions: %v", err)
	}
	return reg
}

// decodeResult fails unless res succeeded, and decodes its value.
func decodeResult(t *testing.T, res registry.Result) map[string]any {
	t.Helper()
	if res.Err != nil {
		t.Fatalf("error %s: %s\n%s", res.Err.Type, res.Err.Message, res.Err.Traceback)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Value, &got); err != nil {
		t.Fatalf("result %s: %v", res.Value, err)
	}
	return got
}

func TestExampleFunctions(t *testing.T) {
	reg := newExampleRegistry(t)
	tests := []struct {
		name     string
		function string
		params   string
		want     map[string]any // compared key by key; timestamp is checked apart
		errType  string
		errMsg   string // exact message
	}{
		{name: "sum", function: "calculate_sum", params: `{"a":10,"b":32}`, want: map[string]any{"result": 42.0, "operation": "sum"}},
		{name: "sum of negatives", function: "calculate_sum", params: `{"a":-10,"b":-32}`, want: map[string]any{"result": -42.0, "operation": "sum"}},
		{name: "sum missing both", function: "calculate_sum", params: `{}`, errType: "ValueError", errMsg: "Missing required parameter 'a' for task function. Parameter is not injectable and not provided in task.parameters."},
		{name: "sum missing b", function: "calculate_sum", params: `{"a":1}`, errType: "ValueError", errMsg: "Missing required parameter 'b' for task function. Parameter is not injectable and not provided in task.parameters."},
		{name: "sum without parameters", function: "calculate_sum", params: ``, errType: "ValueError", errMsg: "Missing required parameter 'a' for task function. Parameter is not injectable and not provided in task.parameters."},
		{name: "sum of a float", function: "calculate_sum", params: `{"a":1.5,"b":1}`, errType: "TypeError", errMsg: "parameter 'a' must be integer, got number 1.5"},
		{name: "sum unknown parameter", function: "calculate_sum", params: `{"a":1,"b":2,"c":3}`, errType: "TypeError", errMsg: "calculate_sum() got an unexpected keyword argument 'c'"},
		{name: "process upper", function: "process_data", params: `{"input_text":"Hello World","uppercase":true}`,
			want: map[string]any{"original": "Hello World", "processed": "HELLO WORLD", "length": 11.0}},
		{name: "process lower", function: "process_data", params: `{"input_text":"Hello World","uppercase":false}`,
			want: map[string]any{"original": "Hello World", "processed": "hello world", "length": 11.0}},
		{name: "process lower by default", function: "process_data", params: `{"input_text":"ÀÉÎ x"}`,
			want: map[string]any{"original": "ÀÉÎ x", "processed": "àéî x", "length": 5.0}},
		{name: "process missing text", function: "process_data", params: `{"uppercase":true}`, errType: "ValueError", errMsg: "Missing required parameter 'input_text' for task function. Parameter is not injectable and not provided in task.parameters."},
		{name: "process wrong type", function: "process_data", params: `{"input_text":"x","uppercase":"yes"}`, errType: "TypeError", errMsg: "parameter 'uppercase' must be boolean, got string"},
		{name: "fail by default", function: "failing_task", params: `{}`, errType: "ValueError", errMsg: "This task was designed to fail"},
		{name: "fail explicitly", function: "failing_task", params: `{"should_fail":true}`, errType: "ValueError", errMsg: "This task was designed to fail"},
		{name: "do not fail", function: "failing_task", params: `{"should_fail":false}`, want: map[string]any{"success": true}},
		{name: "slow zero seconds", function: "slow_computation", params: `{"seconds":0}`, want: map[string]any{"completed": true, "duration_seconds": 0.0}},
		{name: "slow negative seconds", function: "slow_computation", params: `{"seconds":-1}`, errType: "ValueError", errMsg: "seconds must not be negative, got -1"},
		{name: "count without a database", function: "query_task_count", params: `{}`, errType: "RuntimeError", errMsg: "no database was provided to the registry"},
		{name: "not registered", function: "nonexistent_function", params: `{}`, errType: "ValueError", errMsg: "Python function 'nonexistent_function' not found in registry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var params json.RawMessage
			if tt.params != "" {
				params = json.RawMessage(tt.params)
			}
			res := reg.Call(t.Context(), tt.function, params)
			if tt.errType != "" {
				if res.Err == nil {
					t.Fatalf("got %s, want %s", res.Value, tt.errType)
				}
				if res.Err.Type != tt.errType || res.Err.Message != tt.errMsg {
					t.Fatalf("got %s: %q, want %s: %q", res.Err.Type, res.Err.Message, tt.errType, tt.errMsg)
				}
				return
			}
			got := decodeResult(t, res)
			for k, v := range tt.want {
				if !reflect.DeepEqual(got[k], v) {
					t.Errorf("%s = %#v, want %#v (result %s)", k, got[k], v, res.Value)
				}
			}
			if tt.function == "process_data" {
				checkTimestamp(t, got["timestamp"])
			}
		})
	}
}

func checkTimestamp(t *testing.T, v any) {
	t.Helper()
	s, _ := v.(string)
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil || !strings.HasSuffix(s, "Z") || time.Since(ts) > time.Minute {
		t.Errorf("timestamp %q is not a recent RFC 3339 UTC time (%v)", s, err)
	}
}

func TestSlowComputationReportsProgress(t *testing.T) {
	reg := newExampleRegistry(t)
	var updates []registry.ProgressUpdate
	progress := registry.NewProgress(func(u registry.ProgressUpdate) { updates = append(updates, u) })
	res := reg.Call(t.Context(), "slow_computation", json.RawMessage(`{"seconds":1}`), progress)
	got := decodeResult(t, res)
	if got["completed"] != true || got["duration_seconds"] != 1.0 {
		t.Fatalf("result = %s", res.Value)
	}
	if len(updates) != 2 || updates[0].Percent != 0 || updates[1].Percent != 100 || updates[1].Message != "1 of 1 seconds" {
		t.Fatalf("updates = %+v", updates)
	}
}

func TestSlowComputationCancellation(t *testing.T) {
	reg := newExampleRegistry(t)
	started := make(chan struct{}, 1)
	progress := registry.NewProgress(func(registry.ProgressUpdate) {
		select {
		case started <- struct{}{}:
		default:
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan registry.Result, 1)
	go func() { done <- reg.Call(ctx, "slow_computation", json.RawMessage(`{"seconds":3600}`), progress) }()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("slow_computation did not start")
	}
	cancel()
	select {
	case res := <-done:
		if res.Err == nil || res.Err.Type != "context.Canceled" {
			t.Fatalf("result = %s, %+v", res.Value, res.Err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("slow_computation ignored the cancellation")
	}
}

func TestQueryTaskCount(t *testing.T) {
	dbtest.Each(t, testQueryTaskCount) // migrated: both have the tasks table
}

func testQueryTaskCount(t *testing.T, bdb *bun.DB) {
	t.Helper()
	reg := newExampleRegistry(t)
	if err := reg.Provide(bdb); err != nil {
		t.Fatal(err)
	}
	got := decodeResult(t, reg.Call(t.Context(), "query_task_count", json.RawMessage(`{}`)))
	if got["total_tasks"] != 0.0 {
		t.Fatalf("total_tasks = %v on an empty table", got["total_tasks"])
	}
	tasks := exampleTasks()
	if _, err := bdb.NewInsert().Model(&tasks).Exec(t.Context()); err != nil {
		t.Fatalf("insert example tasks: %v", err)
	}
	got = decodeResult(t, reg.Call(t.Context(), "query_task_count", nil))
	if got["total_tasks"] != float64(len(tasks)) {
		t.Fatalf("total_tasks = %v, want %d", got["total_tasks"], len(tasks))
	}
	checkTimestamp(t, got["timestamp"])
}

func TestExampleTasks(t *testing.T) {
	reg := newExampleRegistry(t)
	tasks := exampleTasks()
	if len(tasks) != 9 {
		t.Fatalf("%d example tasks, want 9", len(tasks))
	}
	seeded := time.Date(2025, 10, 17, 10, 0, 0, 0, time.UTC)
	ids := make([]string, len(tasks))
	for i, task := range tasks {
		ids[i] = task.ID
		if len(task.ID) != 26 || !task.CreatedAt.Equal(seeded) || !task.UpdatedAt.Equal(seeded) {
			t.Errorf("task %d: id %q, created %v, updated %v", i, task.ID, task.CreatedAt, task.UpdatedAt)
		}
		if task.Parameters != nil && !json.Valid(task.Parameters) {
			t.Errorf("task %s: parameters %q are not JSON", task.ID, task.Parameters)
		}
		wantEnabled := task.ID != "01JCSEED0000000000000PYTH6"
		if task.Enabled != wantEnabled {
			t.Errorf("task %s: enabled = %v", task.ID, task.Enabled)
		}
		wantRegistered := task.TaskType == "python" && task.Command != "nonexistent_function"
		if task.TaskType == "python" && reg.Has(task.Command) != wantRegistered {
			t.Errorf("task %s: Has(%q) = %v", task.ID, task.Command, !wantRegistered)
		}
	}
	if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Errorf("ids are not unique and ordered: %v", ids)
	}
	shell := tasks[4]
	if shell.TaskType != "shell" || shell.Command != `echo "This is a shell task"` || shell.Parameters != nil {
		t.Errorf("shell task = %+v", shell)
	}

	// The seeded parameters bind to their functions.
	for _, task := range tasks {
		if task.TaskType != "python" || !reg.Has(task.Command) || task.Command == "slow_computation" {
			continue
		}
		t.Run(task.Command+"/"+task.ID, func(t *testing.T) {
			res := reg.Call(t.Context(), task.Command, json.RawMessage(task.Parameters))
			if res.Err != nil && res.Err.Type == "TypeError" {
				t.Fatalf("seeded parameters do not bind: %s", res.Err.Message)
			}
		})
	}
	// The slow one is checked for binding with an already cancelled ctx.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if res := reg.Call(ctx, "slow_computation", json.RawMessage(tasks[2].Parameters)); res.Err == nil || res.Err.Type != "context.Canceled" {
		t.Errorf("slow_computation with cancelled ctx = %s, %+v", res.Value, res.Err)
	}

	names := []string{}
	for _, f := range reg.Functions() {
		names = append(names, f.Name)
	}
	if want := []string{"calculate_sum", "failing_task", "fan_out_sum", "process_data", "query_task_count", "slow_computation"}; !slices.Equal(names, want) {
		t.Errorf("Functions() = %v, want %v", names, want)
	}
}
