package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/api"
	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/internal/testclient"
	"github.com/chaptask/chaptask/metrics"
)

// logBuffer collects JSON log lines written while the server runs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the records logged so far.
func (b *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, rec)
	}
	return out
}

// waitLine returns the first record with the given message and request id,
// waiting for it: the request line is written as the response leaves.
func (b *logBuffer) waitLine(t *testing.T, msg, requestID string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, rec := range b.lines(t) {
			if rec["msg"] == msg && rec["request_id"] == requestID {
				return rec
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q log line with request_id %q in:\n%s", msg, requestID, b.buf.String())
		}
		time.Sleep(10 * time.Millisecond) // polling a buffer; nothing to wait on
	}
}

type observedAPI struct {
	base string
	logs *logBuffer
}

func newObservedAPI(t *testing.T, bdb *bun.DB, checks ...api.HealthCheck) observedAPI {
	t.Helper()
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.NewServer(api.Config{
		DB:           bdb,
		Logger:       slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:      m,
		Gatherer:     reg,
		HealthChecks: checks,
	}))
	t.Cleanup(srv.Close)
	return observedAPI{base: srv.URL, logs: logs}
}

func (a observedAPI) get(t *testing.T, path, requestID string) response {
	t.Helper()
	header := http.Header{}
	if requestID != "" {
		header.Set("X-Request-Id", requestID)
	}
	return (&testclient.Client{Base: a.base}).Do(t, http.MethodGet, path, nil, header)
}

func TestRequestIDs(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		a := newObservedAPI(t, bdb)
		missing := "/api/v1/tasks/" + db.NewID()
		for _, tc := range []struct {
			name, sent string
			kept       bool
		}{
			{"none sent", "", false},
			{"sane one honoured", "trace-4bf92f3577b34da6/span:00f067aa", true},
			{"too long", strings.Repeat("a", 129), false},
			{"not ASCII", "café", false},
			{"space", "a b", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := a.get(t, missing, tc.sent)
				expect(t, res, http.StatusNotFound, "not-found")
				id := res.Header.Get("X-Request-Id")
				if tc.kept && id != tc.sent {
					t.Fatalf("X-Request-Id = %q, want the one sent, %q", id, tc.sent)
				}
				if !tc.kept {
					if _, err := ulid.ParseStrict(id); err != nil {
						t.Fatalf("X-Request-Id = %q, want a new ULID", id)
					}
				}
				line := a.logs.waitLine(t, "request", id)
				want := map[string]any{"level": "INFO", "method": "GET", "route": "/api/v1/tasks/{id}", "path": missing, "status": 404.0}
				for k, v := range want {
					if line[k] != v {
						t.Errorf("log %s = %v, want %v (line %v)", k, line[k], v, line)
					}
				}
				if _, ok := line["duration_ms"].(float64); !ok {
					t.Errorf("log line lacks duration_ms: %v", line)
				}
			})
		}

		// Unmatched paths are logged and counted under a fixed route.
		res := a.get(t, "/no/such/"+db.NewID(), "unmatched-1")
		expect(t, res, http.StatusNotFound, "not-found")
		if line := a.logs.waitLine(t, "request", "unmatched-1"); line["route"] != metrics.UnmatchedRoute {
			t.Errorf("unmatched route logged as %v", line["route"])
		}

		// Probes are logged at debug.
		a.get(t, "/health", "probe-1")
		if line := a.logs.waitLine(t, "request", "probe-1"); line["level"] != "DEBUG" {
			t.Errorf("health request logged at %v, want DEBUG", line["level"])
		}
	})
}

// TestHandlerLogsCarryRequestID checks that what handlers log about a
// request names it: a failing health check and an internal error.
func TestHandlerLogsCarryRequestID(t *testing.T) {
	bdb, err := db.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := newObservedAPI(t, bdb, api.HealthCheck{Name: "temporal", Check: func(context.Context) error {
		return errors.New("connection refused")
	}})

	expect(t, a.get(t, "/health", "health-1"), http.StatusServiceUnavailable, "")
	if line := a.logs.waitLine(t, "health check failed", "health-1"); line["check"] != "temporal" {
		t.Errorf("health log = %v", line)
	}

	// A closed database is not bad input: the client gets a generic 500,
	// and the log says what failed, under the request's id.
	if err := bdb.Close(); err != nil {
		t.Fatal(err)
	}
	expect(t, a.get(t, "/api/v1/tasks", "broken-1"), http.StatusInternalServerError, "internal")
	line := a.logs.waitLine(t, "request failed", "broken-1")
	if line["level"] != "ERROR" || !strings.Contains(line["error"].(string), "closed") {
		t.Errorf("error log = %v", line)
	}
	if line := a.logs.waitLine(t, "request", "broken-1"); line["status"] != 500.0 {
		t.Errorf("request log = %v", line)
	}
}

func TestHTTPMetrics(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		a := newObservedAPI(t, bdb)
		for range 2 {
			expect(t, a.get(t, "/api/v1/tasks/"+db.NewID(), ""), http.StatusNotFound, "not-found")
		}
		expect(t, a.get(t, "/api/v1/tasks/not-a-ulid", ""), http.StatusBadRequest, "invalid-ulid")
		expect(t, a.get(t, "/nowhere", ""), http.StatusNotFound, "not-found")

		res := a.get(t, "/metrics", "")
		expect(t, res, http.StatusOK, "")
		body := string(res.Body)
		for _, want := range []string{
			`chaptask_http_requests_total{code="404",method="GET",route="/api/v1/tasks/{id}"} 2`,
			`chaptask_http_requests_total{code="400",method="GET",route="/api/v1/tasks/{id}"} 1`,
			`chaptask_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
			`chaptask_http_request_duration_seconds_count{method="GET",route="/api/v1/tasks/{id}"} 3`,
			`go_goroutines `,
			`go_sched_latencies_seconds_bucket{le=`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		if strings.Contains(body, "not-a-ulid") || strings.Contains(body, "/nowhere") {
			t.Error("a raw path became a label")
		}
	})
}

func TestDocsEndpoints(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		a := newObservedAPI(t, bdb)
		res := a.get(t, "/openapi.json", "")
		expect(t, res, http.StatusOK, "")
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("openapi.json Content-Type %q", ct)
		}
		if doc := res.Object(t); !strings.HasPrefix(doc["openapi"].(string), "3.1.") {
			t.Errorf("openapi = %v", doc["openapi"])
		}
		res = a.get(t, "/docs", "")
		expect(t, res, http.StatusOK, "")
		if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("docs Content-Type %q", ct)
		}
		if !strings.Contains(res.Header.Get("Content-Security-Policy"), "connect-src 'self'") {
			t.Errorf("docs CSP = %q", res.Header.Get("Content-Security-Policy"))
		}
	})
}
