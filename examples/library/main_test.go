package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chaptask/chaptask/embedded"
	"github.com/chaptask/chaptask/internal/servicetest"
	"github.com/chaptask/chaptask/jobs"
)

// TestGreet runs the example as a user would deploy it (embedded Temporal,
// SQLite, free ports) and executes greet over HTTP.
func TestGreet(t *testing.T) {
	base := startExample(t)
	for _, tc := range []struct {
		params    string
		result    any
		errorType any
	}{
		{`{"name": "Ada"}`, "Hello, Ada!", nil},
		{`{"name": "Grace", "greeting": "Hi"}`, "Hi, Grace!", nil},
		{`{"greeting": "Hi"}`, nil, "ValueError"}, // name is required (chapkit's type)
	} {
		data := runTask(t, base, `{"command": "greet", "task_type": "go", "parameters": `+tc.params+`}`)
		var errType any
		if e, ok := data["error"].(map[string]any); ok {
			errType = e["type"]
		}
		if data["result"] != tc.result || errType != tc.errorType {
			t.Errorf("greet %s: result %v, error %v", tc.params, data["result"], data["error"])
		}
	}
}

// TestNeedsTemporalAddress: the example links no Temporal server, so
// without TEMPORAL_ADDRESS it stops at once and says what to set.
func TestNeedsTemporalAddress(t *testing.T) {
	args := []string{"library", "-http-addr", "127.0.0.1:0", "-data-dir", t.TempDir()}
	err := run(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "TEMPORAL_ADDRESS") {
		t.Fatalf("run without TEMPORAL_ADDRESS: %v, want an error naming it", err)
	}
}

// startExample runs the example's run in-process against a Temporal server
// of its own, as it would run against a cluster, and returns its API's base
// URL.
func startExample(t *testing.T) string {
	t.Helper()
	srv, err := embedded.Start(context.Background(), embedded.Config{
		FrontendAddr:     "127.0.0.1:0",
		SearchAttributes: jobs.SearchAttributes,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	})
	args := []string{"library",
		"-http-addr", "127.0.0.1:0",
		"-temporal-address", srv.FrontendAddr(),
		"-data-dir", t.TempDir(),
		"-log-level", "warn",
	}
	return servicetest.Start(t, func(ctx context.Context, stdout, stderr io.Writer) error {
		return run(ctx, args, func(string) string { return "" }, stdout, stderr)
	}).URL
}

// runTask creates a task from body, executes it, waits for the job and
// returns its artifact's data.
func runTask(t *testing.T, base, body string) map[string]any {
	t.Helper()
	var task struct{ ID string }
	call(t, "POST", base+"/api/v1/tasks", body, 201, &task)
	var exec struct {
		JobID string `json:"job_id"`
	}
	call(t, "POST", base+"/api/v1/tasks/"+task.ID+"/$execute", "", 202, &exec)
	var job struct {
		Status     string
		ArtifactID *string `json:"artifact_id"`
	}
	deadline := time.Now().Add(2 * time.Minute)
	for job.Status != "completed" {
		if job.Status == "failed" || job.Status == "canceled" || time.Now().After(deadline) {
			t.Fatalf("job %s is %q, want completed", exec.JobID, job.Status)
		}
		// The server holds the request until the job finishes (or 30 s).
		call(t, "GET", base+"/api/v1/jobs/"+exec.JobID+"?wait=30s", "", 200, &job)
	}
	var artifact struct{ Data map[string]any }
	call(t, "GET", base+"/api/v1/artifacts/"+*job.ArtifactID, "", 200, &artifact)
	return artifact.Data
}

func call(t *testing.T, method, url, body string, status int, v any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, res.StatusCode, status, raw)
	}
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(v); err != nil {
		t.Fatalf("%s %s: decode %q: %v", method, url, raw, err)
	}
}
