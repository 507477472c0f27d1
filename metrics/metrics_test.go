package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/metrics"
)

func TestTaskTypeIsBounded(t *testing.T) {
	for in, want := range map[string]string{"shell": "shell", "go": "go", "python": "python", "": "other", "cobol": "other", "Shell": "other"} {
		if got := metrics.TaskType(in); got != want {
			t.Errorf("TaskType(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLabelsStayBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveRequest("/api/v1/tasks", "BREW", 418, time.Millisecond)
	m.ObserveRequest("/api/v1/tasks", "GET", 200, time.Millisecond)
	m.JobSubmitted("cobol")
	m.JobFinished("go", domain.StatusCompleted)
	m.ObserveJobDuration("shell", -time.Second) // a clock step back: dropped
	want := `
# HELP chaptask_http_requests_total HTTP requests answered, by route template, method and status code.
# TYPE chaptask_http_requests_total counter
chaptask_http_requests_total{code="200",method="GET",route="/api/v1/tasks"} 1
chaptask_http_requests_total{code="418",method="OTHER",route="/api/v1/tasks"} 1
# HELP chaptask_jobs_submitted_total Jobs started through POST /api/v1/tasks/{id}/$execute, by task type.
# TYPE chaptask_jobs_submitted_total counter
chaptask_jobs_submitted_total{task_type="other"} 1
# HELP chaptask_jobs_finished_total Jobs whose outcome a worker of this process decided, by task type and status (completed, failed, canceled).
# TYPE chaptask_jobs_finished_total counter
chaptask_jobs_finished_total{status="completed",task_type="go"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"chaptask_http_requests_total", "chaptask_jobs_submitted_total", "chaptask_jobs_finished_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "chaptask_job_duration_seconds"); n != 0 {
		t.Errorf("%d duration series after a negative duration, want 0", n)
	}
	if _, err := metrics.New(reg); err == nil {
		t.Error("registering the metrics twice in one registry succeeded")
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *metrics.Metrics
	m.ObserveRequest("/health", "GET", 200, time.Millisecond)
	m.JobSubmitted("shell")
	m.JobFinished("shell", domain.StatusFailed)
	m.ObserveJobDuration("shell", time.Second)
	m.ObserveQueueWait("shell", time.Second)
}
