package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/registry"
	"github.com/chaptask/chaptask/workflows"
)

// fanOutSumTaskID is the seeded calculate_sum task fan_out_sum runs on each
// pair unless told otherwise.
const fanOutSumTaskID = "01JCSEED0000000000000PYTH1"

type fanOutSumParams struct {
	Numbers []int `json:"numbers"`
	// SumTaskID is the task run on each pair, with parameters a and b.
	SumTaskID string `json:"sum_task_id" default:"01JCSEED0000000000000PYTH1"`
}

type fanOutSumResult struct {
	Result    int      `json:"result"`
	Operation string   `json:"operation"`
	ChildJobs []string `json:"child_jobs"`
}

// fanOutSum sums numbers by running the sum task as one child job per pair
// and adding up the children's results. Each child is keyed by its pair, so
// when the worker running this function dies, the function runs again on
// another worker, finds the children it had started and waits for them. A
// child that fails, or whose function returned an error, fails the sum with
// the child's error type.
func fanOutSum(ctx context.Context, p fanOutSumParams, children *jobs.Children) (fanOutSumResult, error) {
	res := fanOutSumResult{Operation: "fan_out_sum", ChildJobs: []string{}}
	if children == nil {
		return res, registry.NewError("RuntimeError", "fan_out_sum must run as a job: no child-job scheduler was injected")
	}
	for i := 0; i < len(p.Numbers); i += 2 {
		pair := map[string]int{"a": p.Numbers[i], "b": 0}
		if i+1 < len(p.Numbers) {
			pair["b"] = p.Numbers[i+1]
		}
		params, err := json.Marshal(pair)
		if err != nil {
			return res, err
		}
		id, err := children.Submit(ctx, fmt.Sprintf("pair-%d", i/2), p.SumTaskID, &workflows.RunOverrides{Parameters: params})
		if err != nil {
			return res, err
		}
		res.ChildJobs = append(res.ChildJobs, id)
	}
	done, err := children.Wait(ctx, res.ChildJobs...)
	if err != nil {
		return res, err
	}
	for i, job := range done {
		sum, err := childSum(ctx, children, job)
		if err != nil {
			var childErr *registry.Error
			if errors.As(err, &childErr) {
				return res, registry.Errorf(childErr.Type, "pair %d (child job %s): %s", i, job.ID, childErr.Message)
			}
			return res, fmt.Errorf("pair %d (child job %s): %w", i, job.ID, err)
		}
		res.Result += sum
	}
	return res, nil
}

// childSum reads the result of a finished calculate_sum child job: a
// *registry.Error when the child's function failed.
func childSum(ctx context.Context, children *jobs.Children, job *jobs.Job) (int, error) {
	if job.Status != jobs.StatusCompleted {
		msg := job.Status
		if job.Error != nil {
			msg += ": " + *job.Error
		}
		return 0, registry.Errorf("ChildJobFailed", "%s", msg)
	}
	art, err := children.Artifact(ctx, job.ID)
	if err != nil {
		return 0, err
	}
	var data struct {
		Result *calculateSumResult `json:"result"`
		Error  *registry.Error     `json:"error"`
	}
	if err := json.Unmarshal(art.Data, &data); err != nil {
		return 0, fmt.Errorf("read artifact %s: %w", art.ID, err)
	}
	switch {
	case data.Error != nil:
		return 0, data.Error
	case data.Result == nil:
		return 0, registry.Errorf("ValueError", "artifact %s has no sum result", art.ID)
	}
	return data.Result.Result, nil
}
