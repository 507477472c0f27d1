// Package metrics defines every Prometheus series chaptask itself exports,
// in one place. The service owns the registry they live in (never the
// global default one) and hands the same *Metrics to the API and the worker.
//
// All methods are safe on a nil *Metrics and then record nothing, so code
// that runs without metrics (tests, tools) needs no special case.
package metrics

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/chaptask/chaptask/domain"
)

// Label values standing for anything outside the known sets, so that no
// label takes unbounded values.
const (
	// OtherTaskType labels a task type that is not shell, go or python,
	// and a job whose task is no longer known.
	OtherTaskType = "other"
	// UnmatchedRoute labels a request that matched no route.
	UnmatchedRoute = "unmatched"
	otherMethod    = "OTHER"
)

// Metrics are chaptask's own collectors.
type Metrics struct {
	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	jobsSubmitted *prometheus.CounterVec
	jobsFinished  *prometheus.CounterVec
	jobDuration   *prometheus.HistogramVec
	jobQueueWait  *prometheus.HistogramVec
	// artifactsRemoved and retentionSweeps watch artifact deletion.
	artifactsRemoved *prometheus.CounterVec
	retentionSweeps  *prometheus.CounterVec
}

// New creates the collectors and registers them with reg, together with
// the Go runtime and process collectors.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaptask_http_requests_total",
			Help: "HTTP requests answered, by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chaptask_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request (a whole stream for Server-Sent Events), by route template and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		jobsSubmitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaptask_jobs_submitted_total",
			Help: "Jobs started through POST /api/v1/tasks/{id}/$execute, by task type.",
		}, []string{"task_type"}),
		jobsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaptask_jobs_finished_total",
			Help: "Jobs whose outcome a worker of this process decided, by task type and status (completed, failed, canceled).",
		}, []string{"task_type", "status"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chaptask_job_duration_seconds",
			Help:    "Run time of completed jobs: the command or function from start to end, by task type.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}, []string{"task_type"}),
		jobQueueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chaptask_job_queue_wait_seconds",
			Help:    "Time from a job's submission to a worker starting its run step, by task type.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"task_type"}),
		artifactsRemoved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaptask_artifacts_removed_total",
			Help: "Artifacts removed, by reason: api (DELETE /api/v1/artifacts/{id}) or retention (CHAPTASK_ARTIFACT_RETENTION); descendants removed with them are not counted.",
		}, []string{"reason"}),
		retentionSweeps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaptask_retention_sweeps_total",
			Help: "Sweeps of the artifact retention policy, by result (ok, error).",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{
		m.httpRequests, m.httpDuration, m.jobsSubmitted, m.jobsFinished, m.jobDuration, m.jobQueueWait,
		m.artifactsRemoved, m.retentionSweeps,
		// The scheduler metrics add go_sched_latencies_seconds, how long
		// goroutines wait for a CPU: on a saturated host it, not the
		// handler, is what a slow request's time went to.
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsScheduler)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register chaptask metrics: %w", err)
		}
	}
	return m, nil
}

// TaskType is the label value of a task type: itself when known, else
// OtherTaskType.
func TaskType(t string) string {
	switch t {
	case domain.TaskTypeShell, domain.TaskTypeGo, domain.TaskTypePython:
		return t
	}
	return OtherTaskType
}

// method bounds the method label to the methods HTTP defines.
func method(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE":
		return m
	}
	return otherMethod
}

// ObserveRequest records one answered HTTP request. route is the mux path
// template, or UnmatchedRoute.
func (m *Metrics) ObserveRequest(route, httpMethod string, code int, d time.Duration) {
	if m == nil {
		return
	}
	httpMethod = method(httpMethod)
	m.httpRequests.WithLabelValues(route, httpMethod, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route, httpMethod).Observe(d.Seconds())
}

// JobSubmitted counts a job started for a task of taskType.
func (m *Metrics) JobSubmitted(taskType string) {
	if m == nil {
		return
	}
	m.jobsSubmitted.WithLabelValues(TaskType(taskType)).Inc()
}

// JobFinished counts a job that ended with status (domain.StatusCompleted,
// StatusFailed or StatusCanceled).
func (m *Metrics) JobFinished(taskType, status string) {
	if m == nil {
		return
	}
	m.jobsFinished.WithLabelValues(TaskType(taskType), status).Inc()
}

// ObserveJobDuration records how long a completed job's run step ran.
func (m *Metrics) ObserveJobDuration(taskType string, d time.Duration) {
	if m == nil || d < 0 {
		return
	}
	m.jobDuration.WithLabelValues(TaskType(taskType)).Observe(d.Seconds())
}

// ObserveQueueWait records how long a job waited between submission and
// the start of its run step.
func (m *Metrics) ObserveQueueWait(taskType string, d time.Duration) {
	if m == nil || d < 0 {
		return
	}
	m.jobQueueWait.WithLabelValues(TaskType(taskType)).Observe(d.Seconds())
}

// ArtifactsRemoved counts n artifacts removed for reason ("api" or
// "retention").
func (m *Metrics) ArtifactsRemoved(reason string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.artifactsRemoved.WithLabelValues(reason).Add(float64(n))
}

// RetentionSwept counts one sweep of the retention policy; failed tells
// whether it stopped on an error.
func (m *Metrics) RetentionSwept(failed bool) {
	if m == nil {
		return
	}
	result := "ok"
	if failed {
		result = "error"
	}
	m.retentionSweeps.WithLabelValues(result).Inc()
}
