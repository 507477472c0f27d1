package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/chaptask/chaptask/internal/testclient"
)

// TestFidelity covers what independent clients of chapkit found different
// (issue 22), each against what Temporal itself says. One SQLite service:
// none of it depends on the database.
func TestFidelity(t *testing.T) {
	logs := &syncBuffer{}
	s := &service{t: t, env: newEnv(t, "sqlite"), logs: logs}
	s.env["CHAPTASK_LOG_LEVEL"] = "info"
	s.start()
	t.Cleanup(s.stop)
	tc := s.temporalClient(t)
	t.Run("a cancel logs no error", func(t *testing.T) { testCancelLogsNoError(t, s, logs) })
	t.Run("terminated job keeps started_at", func(t *testing.T) { testTerminatedStartedAt(t, s, tc) })
	t.Run("schedule times", func(t *testing.T) { testScheduleTimes(t, s, tc) })
	t.Run("cron that never fires", func(t *testing.T) { testCronNeverFires(t, s) })
}

// syncBuffer collects the service's log lines from its goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testCancelLogsNoError(t *testing.T, s *service, logs *syncBuffer) {
	task := s.createTask(t, map[string]any{"command": "sleep 30"})
	jobID := s.execute(t, task)
	s.waitStatus(t, jobID, "running")
	s.want(t, s.do(t, "DELETE", "/api/v1/jobs/"+jobID, nil), 204)
	s.waitStatus(t, jobID, "canceled")
	// The SDK logs before it reports the cancel, so the lines are in.
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=ERROR") || (strings.Contains(line, "level=WARN") && strings.Contains(line, "Heartbeat")) {
			t.Errorf("a routine cancel logged: %s", line)
		}
	}
	if !strings.Contains(logs.String(), `msg="Activity error."`) {
		t.Errorf("the SDK's record of the cancel is gone altogether (want it at INFO):\n%s", logs)
	}
}

func testTerminatedStartedAt(t *testing.T, s *service, tc client.Client) {
	task := s.createTask(t, map[string]any{"command": "sleep 30"})
	jobID := s.execute(t, task)
	running := s.waitStatus(t, jobID, "running")
	if running.StartedAt == nil {
		t.Fatalf("running job without started_at: %+v", running)
	}
	if err := tc.TerminateWorkflow(context.Background(), jobID, "", "fidelity test"); err != nil {
		t.Fatal(err)
	}
	j := s.waitStatus(t, jobID, "failed")
	desc, err := tc.DescribeWorkflowExecution(context.Background(), jobID, "")
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for _, pa := range desc.GetPendingActivities() {
		if pa.GetLastStartedTime() != nil {
			want = rfc3339(pa.GetLastStartedTime().AsTime())
		}
	}
	if want == "" {
		t.Fatalf("Temporal's describe has no run start: %v", desc.GetPendingActivities())
	}
	if j.StartedAt == nil || *j.StartedAt != want || *running.StartedAt != want {
		t.Errorf("terminated job started_at = %v (while running %v), Temporal's describe %s", deref(j.StartedAt), *running.StartedAt, want)
	}
}

// rfc3339 renders a time as the API does: UTC, microseconds.
func rfc3339(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}

type scheduleTimes struct {
	CreatedAt  string        `json:"created_at"`
	UpdatedAt  string        `json:"updated_at"`
	RecentRuns []scheduleRun `json:"recent_runs"`
}

func testScheduleTimes(t *testing.T, s *service, tc client.Client) {
	task := s.createTask(t, map[string]any{"command": "true"})
	sch := s.createSchedule(t, task, map[string]any{"cron": "0 3 * * *", "paused": true})
	check := func(step string, r reply) scheduleTimes {
		t.Helper()
		s.want(t, r, 200)
		var got scheduleTimes
		r.decode(t, &got)
		desc, err := tc.ScheduleClient().GetHandle(context.Background(), sch.ID).Describe(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := desc.Info.CreatedAt
		if desc.Info.LastUpdateAt.After(want) {
			want = desc.Info.LastUpdateAt
		}
		if got.CreatedAt != rfc3339(desc.Info.CreatedAt) || got.UpdatedAt != rfc3339(want) || strings.HasPrefix(got.UpdatedAt, "1970") {
			t.Errorf("%s: created_at %s, updated_at %s; Temporal: created %s, last update %s", step,
				got.CreatedAt, got.UpdatedAt, desc.Info.CreatedAt, desc.Info.LastUpdateAt)
		}
		return got
	}
	check("create", s.do(t, "GET", "/api/v1/schedules/"+sch.ID, nil))
	check("unpause", s.do(t, "PATCH", "/api/v1/schedules/"+sch.ID, map[string]any{"paused": false}))
	changed := check("change the cron", s.do(t, "PATCH", "/api/v1/schedules/"+sch.ID, map[string]any{"cron": "0 4 * * *"}))
	if changed.UpdatedAt == changed.CreatedAt {
		t.Errorf("changing the cron left updated_at at created_at %s", changed.CreatedAt)
	}
	check("trigger", s.do(t, "PATCH", "/api/v1/schedules/"+sch.ID, map[string]any{"trigger": true}))

	// A run's started_at is its job's submitted_at.
	var got scheduleTimes
	testclient.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool {
		r := s.do(t, "GET", "/api/v1/schedules/"+sch.ID, nil)
		s.want(t, r, 200)
		r.decode(t, &got)
		return len(got.RecentRuns) > 0
	}, func() string { return "the triggered run is not in recent_runs" })
	run := got.RecentRuns[0]
	var j struct {
		SubmittedAt string `json:"submitted_at"`
	}
	r := s.do(t, "GET", "/api/v1/jobs/"+run.JobID, nil)
	s.want(t, r, 200)
	r.decode(t, &j)
	desc, err := tc.DescribeWorkflowExecution(context.Background(), run.JobID, "")
	if err != nil {
		t.Fatal(err)
	}
	start := rfc3339(desc.GetWorkflowExecutionInfo().GetStartTime().AsTime())
	if run.StartedAt != j.SubmittedAt || j.SubmittedAt != start {
		t.Errorf("run started_at %s, job submitted_at %s, Temporal's start %s: want one time", run.StartedAt, j.SubmittedAt, start)
	}
	s.want(t, s.do(t, "DELETE", "/api/v1/schedules/"+sch.ID, nil), 204)
}

func testCronNeverFires(t *testing.T, s *service) {
	task := s.createTask(t, map[string]any{"command": "true"})
	for _, body := range []map[string]any{{"cron": "0 0 31 2 *"}, {"cron": "0 0 30 2 *", "paused": true}} {
		r := s.do(t, "POST", "/api/v1/tasks/"+task+"/$schedule", body)
		s.want(t, r, 422)
		if !strings.Contains(string(r.body), `"loc":["body","cron"]`) || !strings.Contains(string(r.body), "never fires") {
			t.Errorf("%v: %s", body, r.body)
		}
	}
	sch := s.createSchedule(t, task, map[string]any{"cron": "0 5 * * *", "paused": true})
	r := s.do(t, "PATCH", "/api/v1/schedules/"+sch.ID, map[string]any{"cron": "0 0 31 4 *", "paused": false})
	s.want(t, r, 422)
	if got := s.schedule(t, sch.ID); got.Cron == nil || *got.Cron != "0 5 * * *" || !got.Paused || got.NextRunAt != nil {
		t.Errorf("a refused patch changed the schedule: %+v", got)
	}
	// The refused creations left nothing behind (visibility catches up
	// with the one schedule created).
	var list []schedule
	testclient.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool {
		s.do(t, "GET", "/api/v1/tasks/"+task+"/$schedules", nil).decode(t, &list)
		return len(list) == 1 && list[0].ID == sch.ID
	}, func() string { return fmt.Sprintf("schedules of the task: %+v, want only %s", list, sch.ID) })
}
