package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/internal/testclient"
)

// TestSchedules drives schedules end to end on each database, against the
// service's embedded Temporal server.
func TestSchedules(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			s := startService(t, newEnv(t, dialect))
			t.Run("validation", func(t *testing.T) { testScheduleValidation(t, s) })
			t.Run("interval, pause, trigger", func(t *testing.T) { testScheduleInterval(t, s) })
			t.Run("disable and delete the task", func(t *testing.T) { testScheduleFollowsTask(t, s) })
			t.Run("cron and run_at", func(t *testing.T) { testScheduleSpecs(t, s) })
		})
	}
}

type scheduleRun struct {
	JobID       string `json:"job_id"`
	ScheduledAt string `json:"scheduled_at"`
	StartedAt   string `json:"started_at"`
}

type schedule struct {
	ID              string        `json:"id"`
	TaskID          string        `json:"task_id"`
	Cron            *string       `json:"cron"`
	IntervalSeconds *int64        `json:"interval_seconds"`
	RunAt           *string       `json:"run_at"`
	Overlap         string        `json:"overlap"`
	Paused          bool          `json:"paused"`
	NextRunAt       *string       `json:"next_run_at"`
	RecentRuns      []scheduleRun `json:"recent_runs"`
	TriggeredJobID  *string       `json:"triggered_job_id"`
}

type scheduledJob struct {
	job
	ScheduleID *string `json:"schedule_id"`
}

func (s *service) createSchedule(t *testing.T, taskID string, body map[string]any) schedule {
	t.Helper()
	r := s.do(t, "POST", "/api/v1/tasks/"+taskID+"/$schedule", body)
	s.want(t, r, 201)
	var sch schedule
	r.decode(t, &sch)
	if r.header.Get("Location") != "/api/v1/schedules/"+sch.ID || sch.TaskID != taskID {
		t.Fatalf("created %+v at %s", sch, r.header.Get("Location"))
	}
	return sch
}

func (s *service) schedule(t *testing.T, id string) schedule {
	t.Helper()
	r := s.do(t, "GET", "/api/v1/schedules/"+id, nil)
	s.want(t, r, 200)
	var sch schedule
	r.decode(t, &sch)
	return sch
}

// scheduleJobs lists the task's jobs that the schedule started.
func (s *service) scheduleJobs(t *testing.T, taskID, scheduleID string) []scheduledJob {
	t.Helper()
	var all, mine []scheduledJob
	s.do(t, "GET", "/api/v1/jobs?task_id="+taskID, nil).decode(t, &all)
	for _, j := range all {
		if j.ScheduleID != nil && *j.ScheduleID == scheduleID {
			mine = append(mine, j)
		}
	}
	return mine
}

func testScheduleValidation(t *testing.T, s *service) {
	task := s.createTask(t, map[string]any{"command": "echo v"})
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{}, "cron"},
		{map[string]any{"cron": "0 2 * * *", "interval_seconds": 5}, "interval_seconds"},
		{map[string]any{"cron": ""}, "cron"},
		{map[string]any{"cron": 5}, "cron"},
		{map[string]any{"cron": "0 2 * * * # note"}, "cron"},
		{map[string]any{"cron": "@every 5s"}, "cron"},
		{map[string]any{"cron": "not a cron"}, "cron"}, // refused by Temporal
		{map[string]any{"cron": "61 2 * * *"}, "cron"}, // refused by Temporal
		{map[string]any{"cron": "0 2 * * * * * *"}, "cron"},
		{map[string]any{"interval_seconds": 0}, "interval_seconds"},
		{map[string]any{"interval_seconds": 1.5}, "interval_seconds"},
		{map[string]any{"interval_seconds": "5"}, "interval_seconds"},
		{map[string]any{"interval_seconds": 1e12}, "interval_seconds"},
		{map[string]any{"run_at": "2001-01-01T00:00:00Z"}, "run_at"},
		{map[string]any{"run_at": "tomorrow"}, "run_at"},
		{map[string]any{"run_at": "2200-01-01T00:00:00Z"}, "run_at"},
		{map[string]any{"run_at": future, "overlap": "sometimes"}, "overlap"},
		{map[string]any{"run_at": future, "paused": "yes"}, "paused"},
		{map[string]any{"run_at": future, "trigger": true}, "trigger"},
		{[]int{1}, "body"},
	} {
		r := s.do(t, "POST", "/api/v1/tasks/"+task+"/$schedule", tc.body)
		if r.status != 422 || !strings.Contains(string(r.body), `"`+tc.field+`"`) {
			t.Errorf("%v: %d %s, want 422 naming %s", tc.body, r.status, r.body, tc.field)
			continue
		}
		s.want(t, r, 422) // FastAPI's detail list
	}
	if r := s.do(t, "POST", "/api/v1/tasks/"+task+"/$schedule", nil); r.status != 400 {
		t.Errorf("no body: %d %s", r.status, r.body)
	}
	ok := map[string]any{"interval_seconds": 60}
	missing := "01JZZZZZZZZZZZZZZZZZZZZZZZ"
	if r := s.do(t, "POST", "/api/v1/tasks/"+missing+"/$schedule", ok); r.status != 404 {
		t.Errorf("unknown task: %d %s", r.status, r.body)
	}
	if r := s.do(t, "GET", "/api/v1/tasks/"+missing+"/$schedules", nil); r.status != 404 {
		t.Errorf("schedules of an unknown task: %d %s", r.status, r.body)
	}
	if r := s.do(t, "POST", "/api/v1/tasks/nope/$schedule", ok); r.status != 400 {
		t.Errorf("bad task id: %d %s", r.status, r.body)
	}
	disabled := s.createTask(t, map[string]any{"command": "echo d", "enabled": false})
	if r := s.do(t, "POST", "/api/v1/tasks/"+disabled+"/$schedule", ok); r.status != 400 || !strings.Contains(string(r.body), "Cannot schedule disabled task "+disabled) {
		t.Errorf("disabled task: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/api/v1/schedules/" + missing, "/api/v1/schedules/nope"} {
		want := 404
		if strings.HasSuffix(path, "nope") {
			want = 400
		}
		for _, m := range []string{"GET", "PATCH", "DELETE"} {
			var body any = map[string]any{"paused": true}
			if m == "DELETE" {
				body = nil // a DELETE with a body is refused (422) before the lookup
			}
			if r := s.do(t, m, path, body); r.status != want {
				t.Errorf("%s %s: %d %s, want %d", m, path, r.status, r.body, want)
			}
		}
	}
	// Nothing was created by any of the refused requests.
	var list []schedule
	s.do(t, "GET", "/api/v1/tasks/"+task+"/$schedules", nil).decode(t, &list)
	if len(list) != 0 {
		t.Errorf("schedules after refused requests: %+v", list)
	}
	sch := s.createSchedule(t, task, map[string]any{"interval_seconds": 3600, "paused": true})
	for _, body := range []map[string]any{{"interval_seconds": -1}, {"overlap": 1}, {"cron": "0 2 * * *", "run_at": future}, {"pause": true}} {
		if r := s.do(t, "PATCH", "/api/v1/schedules/"+sch.ID, body); r.status != 422 {
			t.Errorf("PATCH %v: %d %s", body, r.status, r.body)
		} else {
			s.want(t, r, 422) // FastAPI's detail list
		}
	}
	if got := s.schedule(t, sch.ID); got.IntervalSeconds == nil || *got.IntervalSeconds != 3600 || !got.Paused || got.Overlap != "skip" {
		t.Errorf("schedule changed by refused patches: %+v", got)
	}
	for _, id := range []string{"nope", sch.ID + "-2026-01-02T03:04:05+01:00", sch.ID + "-2026-01-02T03:04:05.5Z", sch.ID + "-junk", sch.ID + "-2026-13-02T03:04:05Z"} {
		if r := s.do(t, "GET", "/api/v1/jobs/"+id, nil); r.status != 400 {
			t.Errorf("job id %s: %d %s", id, r.status, r.body)
		}
	}
	if r := s.do(t, "GET", "/api/v1/jobs/"+sch.ID+"-2026-01-02T03:04:05Z", nil); r.status != 404 {
		t.Errorf("unknown scheduled job id: %d %s", r.status, r.body)
	}
}

func testScheduleInterval(t *testing.T, s *service) {
	task := s.createTask(t, map[string]any{"command": "echo tick"})
	// One second is the smallest interval Temporal accepts.
	sch := s.createSchedule(t, task, map[string]any{"interval_seconds": 1})
	if sch.IntervalSeconds == nil || *sch.IntervalSeconds != 1 || sch.Overlap != "skip" || sch.Paused || sch.NextRunAt == nil {
		t.Fatalf("created %+v", sch)
	}

	// It fires at least twice, each firing an ordinary job with an artifact
	// that names the schedule.
	var done []scheduledJob
	testclient.Eventually(t, 90*time.Second, 200*time.Millisecond, func() bool {
		done = done[:0]
		for _, j := range s.scheduleJobs(t, task, sch.ID) {
			if j.Status == "completed" && j.ArtifactID != nil {
				done = append(done, j)
			}
		}
		return len(done) >= 2
	}, func() string { return fmt.Sprintf("%d completed scheduled jobs", len(done)) })
	for _, j := range done[:2] {
		if !strings.HasPrefix(j.ID, sch.ID+"-") || j.TaskID != task {
			t.Errorf("scheduled job %+v", j)
		}
		got := s.do(t, "GET", "/api/v1/jobs/"+j.ID, nil)
		s.want(t, got, 200)
		if !strings.Contains(string(got.body), `"schedule_id":"`+sch.ID+`"`) {
			t.Errorf("job %s: %s", j.ID, got.body)
		}
		a := s.do(t, "GET", "/api/v1/artifacts/"+*j.ArtifactID, nil)
		s.want(t, a, 200)
		if data := a.object(t)["data"].(map[string]any); data["stdout"] != "tick\n" {
			t.Errorf("artifact of %s: %v", j.ID, data)
		}
	}
	// Manual runs carry no schedule id.
	manual := s.waitStatus(t, s.execute(t, task), "completed")
	if r := s.do(t, "GET", "/api/v1/jobs/"+manual.ID, nil); !strings.Contains(string(r.body), `"schedule_id":null`) {
		t.Errorf("manual job: %s", r.body)
	}

	// Temporal's own schedule list sees it, as `temporal schedule list` would.
	tc := s.temporalClient(t)
	testclient.Eventually(t, 30*time.Second, 100*time.Millisecond, func() bool {
		return slices.Contains(listSchedules(t, tc), sch.ID)
	}, func() string { return "schedule missing from Temporal's list" })
	var listed []schedule
	s.do(t, "GET", "/api/v1/tasks/"+task+"/$schedules", nil).decode(t, &listed)
	if len(listed) != 1 || listed[0].ID != sch.ID || len(listed[0].RecentRuns) < 2 {
		t.Errorf("task schedules: %+v", listed)
	}

	// Paused, it starts nothing more: once every run it started has
	// finished, the count of its jobs stays put past several intervals.
	r := s.do(t, "PATCH", "/api/v1/schedules/"+sch.ID, map[string]any{"paused": true})
	s.want(t, r, 200)
	var paused schedule
	r.decode(t, &paused)
	if !paused.Paused || paused.NextRunAt != nil {
		t.Fatalf("paused: %+v", paused)
	}
	var before []scheduledJob
	testclient.Eventually(t, 60*time.Second, 200*time.Millisecond, func() bool {
		before = s.scheduleJobs(t, task, sch.ID)
		for _, j := range before {
			if j.Status == "pending" || j.Status == "running" {
				return false
			}
		}
		return true
	}, func() string { return "scheduled jobs still running after pause" })
	// A bounded observation: absence cannot be polled for.
	time.Sleep(3 * time.Second)
	if after := s.scheduleJobs(t, task, sch.ID); len(after) != len(before) {
		t.Errorf("paused schedule started %d more jobs", len(after)-len(before))
	}

	// Trigger now fires at once, paused or not.
	r = s.do(t, "PATCH", "/api/v1/schedules/"+sch.ID, map[string]any{"trigger": true})
	s.want(t, r, 200)
	var triggered schedule
	r.decode(t, &triggered)
	if triggered.TriggeredJobID == nil || !triggered.Paused {
		t.Fatalf("trigger: %s", r.body)
	}
	j := s.waitStatus(t, *triggered.TriggeredJobID, "completed")
	if j.ArtifactID == nil {
		t.Errorf("triggered job %+v", j)
	}

	// Unpaused, it fires again.
	s.want(t, s.do(t, "PATCH", "/api/v1/schedules/"+sch.ID, map[string]any{"paused": false, "overlap": "allow_all"}), 200)
	n := len(s.scheduleJobs(t, task, sch.ID))
	testclient.Eventually(t, 60*time.Second, 200*time.Millisecond, func() bool {
		return len(s.scheduleJobs(t, task, sch.ID)) > n
	}, func() string { return "unpaused schedule did not fire" })
	if got := s.schedule(t, sch.ID); got.Overlap != "allow_all" || got.Paused {
		t.Errorf("after unpause: %+v", got)
	}

	// Deleted, it is gone; its jobs stay.
	s.want(t, s.do(t, "DELETE", "/api/v1/schedules/"+sch.ID, nil), 204)
	s.want(t, s.do(t, "GET", "/api/v1/schedules/"+sch.ID, nil), 404)
	s.want(t, s.do(t, "GET", "/api/v1/jobs/"+done[0].ID, nil), 200)
}

func testScheduleFollowsTask(t *testing.T, s *service) {
	task := s.createTask(t, map[string]any{"command": "echo one"})
	sch := s.createSchedule(t, task, map[string]any{"interval_seconds": 3600})
	other := s.createSchedule(t, task, map[string]any{"cron": "0 3 * * *"})
	// Listing is eventually consistent: wait until both are visible.
	testclient.Eventually(t, 30*time.Second, 100*time.Millisecond, func() bool {
		var list []schedule
		s.do(t, "GET", "/api/v1/tasks/"+task+"/$schedules", nil).decode(t, &list)
		return len(list) == 2
	}, func() string { return "task schedules not listed" })

	// Disabling the task pauses its schedules; they cannot be unpaused or
	// triggered while it is disabled.
	s.want(t, s.do(t, "PUT", "/api/v1/tasks/"+task, map[string]any{"command": "echo two", "enabled": false}), 200)
	for _, id := range []string{sch.ID, other.ID} {
		if got := s.schedule(t, id); !got.Paused {
			t.Errorf("schedule %s of a disabled task is not paused", id)
		}
	}
	for _, body := range []map[string]any{{"paused": false}, {"trigger": true}} {
		if r := s.do(t, "PATCH", "/api/v1/schedules/"+sch.ID, body); r.status != 400 {
			t.Errorf("PATCH %v on a disabled task: %d %s", body, r.status, r.body)
		}
	}

	// Deleting the task removes them.
	s.want(t, s.do(t, "DELETE", "/api/v1/tasks/"+task, nil), 204)
	for _, id := range []string{sch.ID, other.ID} {
		s.want(t, s.do(t, "GET", "/api/v1/schedules/"+id, nil), 404)
	}
}

// TestScheduleRestartAndDisabledGuard checks that a schedule survives a
// restart, and the workflow's guard: a schedule that fires after its task
// was disabled does not run it. One dialect: both are Temporal's part.
func TestScheduleRestartAndDisabledGuard(t *testing.T) {
	s := startService(t, newEnv(t, "sqlite"))
	task := s.createTask(t, map[string]any{"command": "echo never"})
	sch := s.createSchedule(t, task, map[string]any{"cron": "30 4 * * *", "paused": true})
	s.restart()
	if got := s.schedule(t, sch.ID); got.Cron == nil || *got.Cron != "30 4 * * *" || !got.Paused {
		t.Fatalf("after restart: %+v", got)
	}
	// Disable the task, then fire the schedule through Temporal itself,
	// past the API's refusal to trigger it.
	tc := s.temporalClient(t)
	h := tc.ScheduleClient().GetHandle(context.Background(), sch.ID)
	s.want(t, s.do(t, "PUT", "/api/v1/tasks/"+task, map[string]any{"command": "echo never", "enabled": false}), 200)
	if err := h.Trigger(context.Background(), client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	var jobs []scheduledJob
	testclient.Eventually(t, 60*time.Second, 200*time.Millisecond, func() bool {
		jobs = s.scheduleJobs(t, task, sch.ID)
		return len(jobs) == 1 && jobs[0].Status == "failed"
	}, func() string { return fmt.Sprintf("jobs %+v", jobs) })
	if jobs[0].Error == nil || !strings.Contains(*jobs[0].Error, "task "+task+" is disabled: schedule "+sch.ID+" did not run it") || jobs[0].ArtifactID != nil {
		t.Errorf("job of a disabled task: %+v (error %s)", jobs[0], deref(jobs[0].Error))
	}
}

func testScheduleSpecs(t *testing.T, s *service) {
	task := s.createTask(t, map[string]any{"command": "echo at"})
	cron := s.createSchedule(t, task, map[string]any{"cron": "0 2 * * 1-5", "overlap": "buffer_one"})
	if cron.Cron == nil || *cron.Cron != "0 2 * * 1-5" || cron.Overlap != "buffer_one" || cron.NextRunAt == nil {
		t.Errorf("cron schedule %+v", cron)
	} else if next, err := time.Parse(time.RFC3339, *cron.NextRunAt); err != nil || next.Hour() != 2 || next.Minute() != 0 || next.Weekday() == time.Saturday || next.Weekday() == time.Sunday {
		t.Errorf("next run of 0 2 * * 1-5: %s", *cron.NextRunAt)
	}
	// The spec can be replaced.
	r := s.do(t, "PATCH", "/api/v1/schedules/"+cron.ID, map[string]any{"interval_seconds": 7200})
	s.want(t, r, 200)
	var changed schedule
	r.decode(t, &changed)
	if changed.Cron != nil || changed.IntervalSeconds == nil || *changed.IntervalSeconds != 7200 || changed.Overlap != "buffer_one" {
		t.Errorf("changed to an interval: %s", r.body)
	}

	// run_at fires once, at that second.
	at := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second)
	once := s.createSchedule(t, task, map[string]any{"run_at": at.Format(time.RFC3339)})
	if once.RunAt == nil || *once.RunAt != at.Format(time.RFC3339) || once.NextRunAt == nil || *once.NextRunAt != *once.RunAt {
		t.Errorf("run_at schedule %+v", once)
	}
	var jobs []scheduledJob
	testclient.Eventually(t, 60*time.Second, 200*time.Millisecond, func() bool {
		jobs = s.scheduleJobs(t, task, once.ID)
		return len(jobs) == 1 && jobs[0].Status == "completed"
	}, func() string { return fmt.Sprintf("run_at jobs %+v", jobs) })
	if jobs[0].ID != once.ID+"-"+at.Format(time.RFC3339) {
		t.Errorf("run_at job id %s", jobs[0].ID)
	}
	if got := s.schedule(t, once.ID); got.NextRunAt != nil || len(got.RecentRuns) != 1 {
		t.Errorf("spent run_at schedule %+v", got)
	}
}

// listSchedules returns every schedule id Temporal lists.
func listSchedules(t *testing.T, c client.Client) []string {
	t.Helper()
	iter, err := c.ScheduleClient().List(context.Background(), client.ScheduleListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	return ids
}
