package main

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/registry"
)

// registerExampleFunctions registers the example functions of chapkit's
// Python task guide, which the seeded example tasks call.
func registerExampleFunctions(reg *registry.Registry) error {
	if err := registry.Add(reg, "calculate_sum", calculateSum); err != nil {
		return err
	}
	if err := registry.Add(reg, "process_data", processData); err != nil {
		return err
	}
	if err := reg.Register("slow_computation", slowComputation); err != nil {
		return err
	}
	if err := registry.Add(reg, "failing_task", failingTask); err != nil {
		return err
	}
	if err := registry.Add(reg, "query_task_count", queryTaskCount); err != nil {
		return err
	}
	// Declared before registering the function that takes it; the worker
	// passes each call its own.
	if err := registry.Declare[*jobs.Children](reg); err != nil {
		return err
	}
	return reg.Register("fan_out_sum", fanOutSum)
}

type calculateSumParams struct {
	A int `json:"a"`
	B int `json:"b"`
}

type calculateSumResult struct {
	Result    int    `json:"result"`
	Operation string `json:"operation"`
}

func calculateSum(_ context.Context, p calculateSumParams) (calculateSumResult, error) {
	return calculateSumResult{Result: p.A + p.B, Operation: "sum"}, nil
}

type processDataParams struct {
	InputText string `json:"input_text"`
	Uppercase bool   `json:"uppercase" default:"false"`
}

type processDataResult struct {
	Original  string `json:"original"`
	Processed string `json:"processed"`
	Length    int    `json:"length"`
	Timestamp string `json:"timestamp"`
}

func processData(_ context.Context, p processDataParams) (processDataResult, error) {
	processed := strings.ToLower(p.InputText)
	if p.Uppercase {
		processed = strings.ToUpper(p.InputText)
	}
	return processDataResult{
		Original:  p.InputText,
		Processed: processed,
		Length:    utf8.RuneCountInString(p.InputText),
		Timestamp: time.Now().UTC().Format(time.RFC3339),
	}, nil
}

type slowComputationParams struct {
	Seconds int `json:"seconds" default:"2"`
}

type slowComputationResult struct {
	Completed       bool `json:"completed"`
	DurationSeconds int  `json:"duration_seconds"`
}

// slowComputation waits the given number of seconds, reporting progress
// every second, and stops early when ctx is cancelled.
func slowComputation(ctx context.Context, p slowComputationParams, progress *registry.Progress) (slowComputationResult, error) {
	if p.Seconds < 0 {
		return slowComputationResult{}, registry.Errorf("ValueError", "seconds must not be negative, got %d", p.Seconds)
	}
	progress.Report(0, fmt.Sprintf("starting a %d second computation", p.Seconds))
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for done := 1; done <= p.Seconds; done++ {
		select {
		case <-ctx.Done():
			return slowComputationResult{}, ctx.Err()
		case <-ticker.C:
			progress.Report(100*float64(done)/float64(p.Seconds), fmt.Sprintf("%d of %d seconds", done, p.Seconds))
		}
	}
	return slowComputationResult{Completed: true, DurationSeconds: p.Seconds}, nil
}

type failingTaskParams struct {
	ShouldFail bool `json:"should_fail" default:"true"`
}

type failingTaskResult struct {
	Success bool `json:"success"`
}

func failingTask(_ context.Context, p failingTaskParams) (failingTaskResult, error) {
	if p.ShouldFail {
		return failingTaskResult{}, registry.NewError("ValueError", "This task was designed to fail")
	}
	return failingTaskResult{Success: true}, nil
}

type taskCountResult struct {
	TotalTasks int64  `json:"total_tasks"`
	Timestamp  string `json:"timestamp"`
}

// queryTaskCount counts the task templates through the injected database.
func queryTaskCount(ctx context.Context, idb bun.IDB) (taskCountResult, error) {
	if idb == nil {
		return taskCountResult{}, registry.NewError("RuntimeError", "no database was provided to the registry")
	}
	n, err := idb.NewSelect().Table("tasks").Count(ctx)
	if err != nil {
		return taskCountResult{}, fmt.Errorf("count tasks: %w", err)
	}
	return taskCountResult{TotalTasks: n, Timestamp: time.Now().UTC().Format(time.RFC3339)}, nil
}

// fanOutNumbers are the seeded fan_out_sum task's parameters: 1 to 40, so
// 20 calculate_sum child jobs that add up to 820.
const fanOutNumbers = `{"numbers":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40]}`

// seedTime is the creation time of every example task.
var seedTime = time.Date(2025, 10, 17, 10, 0, 0, 0, time.UTC)

// exampleTasks returns the example task templates seeded into an empty
// database, with stable IDs. PYTH6 is disabled; PYTH7 names a function that
// is not registered, so startup disables it as an orphan.
func exampleTasks() []db.Task {
	task := func(id, command, taskType, params string, enabled bool) db.Task {
		t := db.Task{
			ID:        id,
			Command:   command,
			TaskType:  taskType,
			Enabled:   enabled,
			CreatedAt: seedTime,
			UpdatedAt: seedTime,
		}
		if params != "" {
			t.Parameters = db.JSON(params)
		}
		return t
	}
	return []db.Task{
		task("01JCSEED0000000000000PYTH1", "calculate_sum", domain.TaskTypePython, `{"a":10,"b":32}`, true),
		task("01JCSEED0000000000000PYTH2", "process_data", domain.TaskTypePython, `{"input_text":"Hello World","uppercase":true}`, true),
		task("01JCSEED0000000000000PYTH3", "slow_computation", domain.TaskTypePython, `{"seconds":2}`, true),
		task("01JCSEED0000000000000PYTH4", "failing_task", domain.TaskTypePython, `{"should_fail":true}`, true),
		task("01JCSEED0000000000000PYTH5", `echo "This is a shell task"`, domain.TaskTypeShell, "", true),
		task("01JCSEED0000000000000PYTH6", "process_data", domain.TaskTypePython, `{"input_text":"Disabled","uppercase":false}`, false),
		task("01JCSEED0000000000000PYTH7", "nonexistent_function", domain.TaskTypePython, `{}`, true),
		task("01JCSEED0000000000000PYTH8", "query_task_count", domain.TaskTypePython, `{}`, true),
		task("01JCSEED0000000000000PYTH9", "fan_out_sum", domain.TaskTypePython, fanOutNumbers, true),
	}
}
