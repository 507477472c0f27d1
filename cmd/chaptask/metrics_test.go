package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/chaptask/chaptask/internal/testclient"
)

// testMetrics runs a job to completion and cancels another, then checks
// that /metrics exposes chaptask's series, labelled by route template and
// task type, and the Temporal SDK's own.
func testMetrics(t *testing.T, s *service) {
	s.runTask(t, s.createTask(t, map[string]any{"command": "echo metrics"}))
	canceled := s.execute(t, s.createTask(t, map[string]any{"command": "sleep 300"}))
	s.waitStatus(t, canceled, "running")
	s.want(t, s.do(t, "DELETE", "/api/v1/jobs/"+canceled, nil), 204)
	s.waitStatus(t, canceled, "canceled")

	type want struct {
		name   string
		labels map[string]string
	}
	wants := []want{
		{"chaptask_http_requests_total", map[string]string{"route": "/api/v1/tasks/{id}/$execute", "method": "POST", "code": "202"}},
		{"chaptask_http_requests_total", map[string]string{"route": "/api/v1/jobs/{id}", "method": "GET", "code": "200"}},
		{"chaptask_http_request_duration_seconds", map[string]string{"route": "/api/v1/jobs/{id}", "method": "GET"}},
		{"chaptask_jobs_submitted_total", map[string]string{"task_type": "shell"}},
		{"chaptask_jobs_finished_total", map[string]string{"task_type": "shell", "status": "completed"}},
		{"chaptask_jobs_finished_total", map[string]string{"task_type": "shell", "status": "canceled"}},
		{"chaptask_job_duration_seconds", map[string]string{"task_type": "shell"}},
		{"chaptask_job_queue_wait_seconds", map[string]string{"task_type": "shell"}},
		// The SDK's series reach the registry on tally's next report.
		{"temporal_request_total", map[string]string{"operation": "StartWorkflowExecution"}},
		{"temporal_workflow_completed_total", map[string]string{"workflow_type": "chaptask_ExecuteTask"}},
	}
	var families map[string]*dto.MetricFamily
	var missing []string
	testclient.Eventually(t, 60*time.Second, 100*time.Millisecond, func() bool {
		r := s.do(t, "GET", "/metrics", nil)
		s.want(t, r, 200)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Fatalf("Content-Type %q", ct)
		}
		var err error
		var parser expfmt.TextParser
		if families, err = parser.TextToMetricFamilies(bytes.NewReader(r.body)); err != nil {
			t.Fatalf("parse /metrics: %v", err)
		}
		missing = missing[:0]
		for _, w := range wants {
			if value(families[w.name], w.labels) <= 0 {
				missing = append(missing, fmt.Sprintf("%s%v", w.name, w.labels))
			}
		}
		return len(missing) == 0
	}, func() string { return fmt.Sprintf("/metrics lacks %v", missing) })

	// Raw paths never become labels: every route is a template or
	// "unmatched".
	for _, m := range families["chaptask_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" && strings.Contains(l.GetValue(), canceled) {
				t.Errorf("route label %q holds a job id", l.GetValue())
			}
		}
	}
}

// value is the counter value or histogram sample count of the series of f
// whose labels include labels, summed over the rest; 0 when there is none.
func value(f *dto.MetricFamily, labels map[string]string) float64 {
	var sum float64
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range labels {
			if have[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			sum += m.GetCounter().GetValue()
		case m.GetHistogram() != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}
