package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chaptask/chaptask/internal/testclient"
	"github.com/chaptask/chaptask/workflows"
)

// runStep is what a job's history says of its run step.
type runStep struct {
	policy   *commonpb.RetryPolicy // as scheduled
	attempts []int32               // of every attempt that started
	closedBy enumspb.EventType     // the event that closed the last attempt
}

// runHistory reads the run step out of the job's Temporal history.
func (s *service) runHistory(t *testing.T, jobID string) runStep {
	t.Helper()
	var step runStep
	var scheduled int64
	iter := s.temporalClient(t).GetWorkflowHistory(context.Background(), jobID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", jobID, err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == workflows.RunTaskActivity {
			scheduled, step.policy = ev.GetEventId(), a.GetRetryPolicy()
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.GetScheduledEventId() == scheduled {
			step.attempts = append(step.attempts, a.GetAttempt())
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED,
			enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCELED, enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
			step.closedBy = ev.GetEventType()
		}
	}
	if scheduled == 0 {
		t.Fatalf("job %s never scheduled its run step", jobID)
	}
	return step
}

// recordHistoryEnv names a directory to which tests write the histories of
// jobs that workflows/testdata lacks, for the replay test (files of earlier
// workflow shapes stay; a new shape gets a new name):
// CHAPTASK_RECORD_HISTORIES=$PWD/workflows/testdata go test ./cmd/chaptask -run 'TestEndToEnd/sqlite/shell_timeout'
const recordHistoryEnv = "CHAPTASK_RECORD_HISTORIES"

// recordHistory writes the job's history as name when recordHistoryEnv is set.
func (s *service) recordHistory(t *testing.T, jobID, name string) {
	t.Helper()
	dir := os.Getenv(recordHistoryEnv)
	if dir == "" {
		return
	}
	var events []*historypb.HistoryEvent
	iter := s.temporalClient(t).GetWorkflowHistory(context.Background(), jobID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	raw, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(&historypb.History{Events: events})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), append(raw, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ranOnce fails unless the run step started exactly once, as attempt 1.
func (step runStep) ranOnce(t *testing.T) {
	t.Helper()
	if len(step.attempts) != 1 || step.attempts[0] != 1 {
		t.Errorf("run step attempts %v, want exactly [1]", step.attempts)
	}
}

// processGroupAlive reports whether any live process is in group pgid.
func processGroupAlive(pgid int) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue // exited while we looked
		}
		end := strings.LastIndexByte(string(raw), ')')
		if end < 0 {
			continue
		}
		// After the command name: state, ppid, pgrp, ...
		fields := strings.Fields(string(raw[end+1:]))
		if len(fields) < 3 || fields[0] == "Z" || fields[0] == "X" {
			continue
		}
		if g, err := strconv.Atoi(fields[2]); err == nil && g == pgid {
			return true
		}
	}
	return false
}

// waitGroupGone fails unless every process of the job's group is gone
// within the given time.
func waitGroupGone(t *testing.T, pgid int, within time.Duration) {
	t.Helper()
	testclient.Eventually(t, within, 10*time.Millisecond, func() bool { return !processGroupAlive(pgid) },
		func() string { return fmt.Sprintf("process group %d of a finished job is still alive", pgid) })
}

// noArtifacts fails unless the task has no execution artifact.
func (s *service) noArtifacts(t *testing.T, taskID string) {
	t.Helper()
	var list []map[string]any
	r := s.do(t, "GET", "/api/v1/artifacts?task_id="+taskID, nil)
	s.want(t, r, 200)
	r.decode(t, &list)
	if len(list) != 0 {
		t.Errorf("artifacts of a canceled job: %v", list)
	}
}

// testTimeout runs a shell task past its timeout: the job fails saying so,
// its artifact keeps what was printed, its process group is gone within
// 2 s, and the run step ran once although its policy allows retries.
func testTimeout(t *testing.T, s *service) {
	path, readPID := pidFile(t)
	taskID := s.createTask(t, map[string]any{
		"command":         "echo $$ > " + path + "; echo started; sleep 30 & sleep 30",
		"timeout_seconds": 1,
		"retry_policy":    map[string]any{"max_attempts": 3, "initial_interval_seconds": 0.5},
	})
	jobID := s.execute(t, taskID)
	pgid := readPID()
	j := s.waitStatus(t, jobID, "completed", "failed", "canceled")
	waitGroupGone(t, pgid, 2*time.Second)
	if j.Status != "failed" || j.Error == nil || !strings.Contains(*j.Error, "timed out after 1s") {
		t.Fatalf("job after its timeout: %+v (error %s)", j, deref(j.Error))
	}
	if j.ArtifactID == nil || j.StartedAt == nil || j.FinishedAt == nil {
		t.Fatalf("a timed-out job lacks its artifact or times: %+v", j)
	}
	if !strings.Contains(*j.Error, *j.ArtifactID) {
		t.Errorf("error %q does not point at artifact %s", *j.Error, *j.ArtifactID)
	}
	a := s.do(t, "GET", "/api/v1/artifacts/"+*j.ArtifactID, nil)
	s.want(t, a, 200)
	data := a.object(t)["data"].(map[string]any)
	if data["stdout"] != "started\n" || data["timed_out"] != true {
		t.Errorf("artifact data: %v", data)
	}
	if code, _ := data["exit_code"].(float64); code >= 0 {
		t.Errorf("exit_code = %v, want the signal that stopped the command", data["exit_code"])
	}
	if e, _ := data["error"].(map[string]any); e["type"] != "Timeout" || e["message"] != "timed out after 1s" {
		t.Errorf("data.error = %v", data["error"])
	}
	if snap := data["task"].(map[string]any); snap["timeout_seconds"] != 1.0 || snap["retry_policy"].(map[string]any)["max_attempts"] != 3.0 {
		t.Errorf("snapshot: %v", snap)
	}

	s.recordHistory(t, jobID, "timed_out_shell_stored_by_run_step.json")
	step := s.runHistory(t, jobID)
	step.ranOnce(t)
	if p := step.policy; p.GetMaximumAttempts() != 3 || p.GetInitialInterval().AsDuration() != 500*time.Millisecond ||
		p.GetBackoffCoefficient() != 2 || p.GetMaximumInterval().AsDuration() != 30*time.Second {
		t.Errorf("run step scheduled with %v, want the task's policy", p)
	}
	if step.closedBy != enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED {
		t.Errorf("run step closed by %v, want completed (a timeout is a result, not a retryable failure)", step.closedBy)
	}
}

// testFunctionTimeout runs slow_computation past its timeout: the job fails
// with a Timeout error in the artifact.
func testFunctionTimeout(t *testing.T, s *service) {
	jobID := s.execute(t, s.createTask(t, map[string]any{
		"command": "slow_computation", "task_type": "python", "parameters": map[string]any{"seconds": 30},
		"timeout_seconds": 1,
	}))
	j := s.waitStatus(t, jobID, "completed", "failed", "canceled")
	if j.Status != "failed" || j.Error == nil || !strings.Contains(*j.Error, "timed out after 1s") || j.ArtifactID == nil {
		t.Fatalf("function job after its timeout: %+v (error %s)", j, deref(j.Error))
	}
	a := s.do(t, "GET", "/api/v1/artifacts/"+*j.ArtifactID, nil)
	s.want(t, a, 200)
	data := a.object(t)["data"].(map[string]any)
	if e, _ := data["error"].(map[string]any); data["result"] != nil || data["timed_out"] != true || e["type"] != "Timeout" {
		t.Errorf("artifact data: %v", data)
	}
	s.runHistory(t, jobID).ranOnce(t)
}

// testDefaultPolicy checks that a task without limits runs with the policy
// every job had before tasks could choose one.
func testDefaultPolicy(t *testing.T, s *service) {
	jobID := s.execute(t, s.createTask(t, map[string]any{"command": "echo plain"}))
	if j := s.waitStatus(t, jobID, "completed", "failed", "canceled"); j.Status != "completed" {
		t.Fatalf("plain job: %+v", j)
	}
	step := s.runHistory(t, jobID)
	step.ranOnce(t)
	if p := step.policy; p.GetMaximumAttempts() != 5 || p.GetInitialInterval().AsDuration() != time.Second ||
		p.GetBackoffCoefficient() != 2 || p.GetMaximumInterval().AsDuration() != 30*time.Second {
		t.Errorf("default policy scheduled as %v", p)
	}
}
