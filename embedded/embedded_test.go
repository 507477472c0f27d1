package embedded_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	_ "modernc.org/sqlite"

	"github.com/chaptask/chaptask/embedded"
)

const taskQueue = "embedded-test"

var searchAttributes = map[string]enums.IndexedValueType{
	"ChaptaskTaskID":     enums.INDEXED_VALUE_TYPE_KEYWORD,
	"ChaptaskTaskType":   enums.INDEXED_VALUE_TYPE_KEYWORD,
	"ChaptaskCommand":    enums.INDEXED_VALUE_TYPE_KEYWORD,
	"ChaptaskScheduleID": enums.INDEXED_VALUE_TYPE_KEYWORD,
}

type greetInput struct {
	Name string
}

type greetActivities struct{}

func (*greetActivities) Greet(_ context.Context, in greetInput) (string, error) {
	return "hello " + in.Name, nil
}

// greetWorkflow returns the Greet activity's result.
func greetWorkflow(ctx workflow.Context, in greetInput) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var a *greetActivities
	var out string
	err := workflow.ExecuteActivity(ctx, a.Greet, in).Get(ctx, &out)
	return out, err
}

// waitWorkflow waits for a "go" signal and returns its payload.
func waitWorkflow(ctx workflow.Context) (string, error) {
	var payload string
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &payload)
	return "got " + payload, nil
}

func TestServer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	began := time.Now()
	srv, err := embedded.Start(ctx, embedded.Config{
		FrontendAddr:     "127.0.0.1:0",
		UIAddr:           "127.0.0.1:0",
		Namespace:        "chaptask-test",
		SearchAttributes: searchAttributes,
		Logger:           testLogger(),
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("Start (in memory, with UI) took %v", time.Since(began))
	t.Cleanup(func() { stop(t, srv) })

	if srv.Namespace() != "chaptask-test" {
		t.Errorf("Namespace() = %q, want chaptask-test", srv.Namespace())
	}
	if strings.HasSuffix(srv.FrontendAddr(), ":0") {
		t.Errorf("FrontendAddr() = %q, want the chosen port", srv.FrontendAddr())
	}
	c := dial(t, srv)
	startWorker(t, c)

	t.Run("workflow with activity", func(t *testing.T) {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: taskQueue}, greetWorkflow, greetInput{Name: "chaptask"})
		if err != nil {
			t.Fatalf("ExecuteWorkflow: %v", err)
		}
		var got string
		if err := run.Get(ctx, &got); err != nil {
			t.Fatalf("workflow result: %v", err)
		}
		if got != "hello chaptask" {
			t.Errorf("result = %q, want %q", got, "hello chaptask")
		}
	})

	t.Run("search attributes registered", func(t *testing.T) {
		resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: srv.Namespace()})
		if err != nil {
			t.Fatalf("ListSearchAttributes: %v", err)
		}
		for name, typ := range searchAttributes {
			if got, ok := resp.GetCustomAttributes()[name]; !ok || got != typ {
				t.Errorf("search attribute %s = %v (present %v), want %v", name, got, ok, typ)
			}
		}
	})

	t.Run("list workflows by search attribute", func(t *testing.T) {
		taskID := temporal.NewSearchAttributeKeyKeyword("ChaptaskTaskID")
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			TaskQueue:             taskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(taskID.ValueSet("x")),
		}, greetWorkflow, greetInput{Name: "x"})
		if err != nil {
			t.Fatalf("ExecuteWorkflow: %v", err)
		}
		// Visibility is eventually consistent.
		waitFor(t, 10*time.Second, func() error {
			resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "ChaptaskTaskID = 'x'"})
			if err != nil {
				return err
			}
			for _, e := range resp.GetExecutions() {
				if e.GetExecution().GetWorkflowId() == run.GetID() {
					return nil
				}
			}
			return fmt.Errorf("workflow %s not listed yet (%d results)", run.GetID(), len(resp.GetExecutions()))
		})
	})

	t.Run("web UI", func(t *testing.T) {
		if srv.UIAddr() == "" || strings.HasSuffix(srv.UIAddr(), ":0") {
			t.Fatalf("UIAddr() = %q, want the chosen address", srv.UIAddr())
		}
		resp, err := http.Get("http://" + srv.UIAddr() + "/")
		if err != nil {
			t.Fatalf("GET /: %v", err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("read body: %v", err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET / status = %d, want 200", resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("GET / Content-Type = %q, want text/html", ct)
		}
		if !strings.Contains(strings.ToLower(string(body)), "<html") {
			t.Errorf("GET / body is not HTML: %.200s", body)
		}
	})
}

func TestRestartKeepsWorkflows(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	cfg := embedded.Config{
		DataDir:          dir,
		FrontendAddr:     "127.0.0.1:0",
		SearchAttributes: searchAttributes,
		Logger:           testLogger(),
	}

	began := time.Now()
	first, err := embedded.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("Start (new file) took %v", time.Since(began))
	t.Cleanup(func() { stop(t, first) })
	if first.UIAddr() != "" {
		t.Errorf("UIAddr() = %q with the UI disabled, want \"\"", first.UIAddr())
	}
	if _, err := embedded.Start(ctx, cfg); err == nil {
		t.Errorf("second Start on a DataDir in use: no error")
	}

	c := dial(t, first)
	w := startWorker(t, c)
	done, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "done", TaskQueue: taskQueue}, greetWorkflow, greetInput{Name: "before"})
	if err != nil {
		t.Fatalf("ExecuteWorkflow: %v", err)
	}
	if err := done.Get(ctx, nil); err != nil {
		t.Fatalf("workflow result: %v", err)
	}
	blocked, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "blocked", TaskQueue: taskQueue}, waitWorkflow)
	if err != nil {
		t.Fatalf("ExecuteWorkflow: %v", err)
	}
	// Let the first workflow task complete, so the workflow is waiting for
	// its signal and not for a workflow task timeout after the restart.
	waitFor(t, 10*time.Second, func() error {
		desc, err := c.DescribeWorkflowExecution(ctx, blocked.GetID(), "")
		if err != nil {
			return err
		}
		if desc.GetPendingWorkflowTask() != nil || desc.GetWorkflowExecutionInfo().GetHistoryLength() < 4 {
			return errors.New("first workflow task not completed yet")
		}
		return nil
	})
	w.Stop()
	c.Close()
	stop(t, first)
	if _, err := os.Stat(filepath.Join(dir, "temporal.db")); err != nil {
		t.Fatalf("database file: %v", err)
	}

	// The namespace exists now: a search attribute added to the config goes
	// through the operator API and must be usable when Start returns.
	cfg.SearchAttributes = maps.Clone(searchAttributes)
	cfg.SearchAttributes["ChaptaskExtra"] = enums.INDEXED_VALUE_TYPE_KEYWORD
	began = time.Now()
	second, err := embedded.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start again: %v", err)
	}
	t.Logf("Start (existing file, one new search attribute) took %v", time.Since(began))
	t.Cleanup(func() { stop(t, second) })

	c = dial(t, second)
	if _, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "ChaptaskExtra = 'y'"}); err != nil {
		t.Errorf("query with the new search attribute: %v", err)
	}
	w = startWorker(t, c)
	if err := c.SignalWorkflow(ctx, "blocked", "", "go", "after"); err != nil {
		t.Fatalf("SignalWorkflow: %v", err)
	}
	var got string
	if err := c.GetWorkflow(ctx, "blocked", "").Get(ctx, &got); err != nil {
		t.Fatalf("blocked workflow result: %v", err)
	}
	if got != "got after" {
		t.Errorf("blocked workflow result = %q, want %q", got, "got after")
	}

	desc, err := c.DescribeWorkflowExecution(ctx, "done", "")
	if err != nil {
		t.Fatalf("DescribeWorkflowExecution(done): %v", err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("workflow done: status %v, want completed", st)
	}
	var result string
	if err := c.GetWorkflow(ctx, "done", "").Get(ctx, &result); err != nil || result != "hello before" {
		t.Errorf("workflow done: result %q, %v; want %q", result, err, "hello before")
	}

	// Counting the workflows of a type, with or without a status, is what
	// a job-list page asks; it must be right and answered from an index.
	waitFor(t, 10*time.Second, func() error {
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Query: "WorkflowType = 'greetWorkflow' AND ExecutionStatus = 'Completed'",
		})
		if err != nil {
			return err
		}
		if resp.GetCount() != 1 {
			return fmt.Errorf("completed greetWorkflow count = %d, want 1", resp.GetCount())
		}
		return nil
	})
	checkCountPlan(t, filepath.Join(dir, "temporal-visibility.db"))

	w.Stop()
	stop(t, second)
	checkIntegrity(t, filepath.Join(dir, "temporal.db"))
}

// checkCountPlan checks that SQLite counts the workflows of a type and
// status (in the form the server's query converter writes) from the index
// chaptask adds, without reading the table's rows.
func checkCountPlan(t *testing.T, path string) {
	t.Helper()
	db := openReadOnly(t, path)
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN SELECT COUNT(*) FROM executions_visibility
		WHERE (namespace_id = ?) AND (workflow_type_name = ? AND status = ?) AND TemporalNamespaceDivision IS NULL`,
		"ns", "greetWorkflow", 2)
	if err != nil {
		t.Fatalf("explain count: %v", err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatalf("read plan: %v", err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read plan: %v", err)
	}
	// SQLite calls a partial index "USING INDEX" even when, as here, the
	// rows are never read (its bytecode defers the row seek and never makes it).
	if len(plan) != 1 || !strings.Contains(plan[0], "USING INDEX chaptask_by_type_status") {
		t.Errorf("count plan = %q, want one search of chaptask_by_type_status", plan)
	}
}

// stop stops srv; a second call must be harmless.
func stop(t *testing.T, srv *embedded.Server) {
	t.Helper()
	if err := srv.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func dial(t *testing.T, srv *embedded.Server) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  srv.FrontendAddr(),
		Namespace: srv.Namespace(),
		Logger:    sdklog.NewStructuredLogger(testLogger()),
	})
	if err != nil {
		t.Fatalf("client.Dial: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func startWorker(t *testing.T, c client.Client) worker.Worker {
	t.Helper()
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(greetWorkflow)
	w.RegisterWorkflow(waitWorkflow)
	w.RegisterActivity(&greetActivities{})
	if err := w.Start(); err != nil {
		t.Fatalf("worker.Start: %v", err)
	}
	t.Cleanup(w.Stop)
	return w
}

// waitFor calls check until it returns nil, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		<-ticker.C
	}
}

// openReadOnly opens a SQLite file for reading. Callers close it at once:
// an open reader would keep the server's checkpoint at Stop from
// truncating the write-ahead log.
func openReadOnly(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return db
}

// checkIntegrity runs SQLite's integrity check on the database file and
// checks that the server left it in WAL mode.
func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db := openReadOnly(t, path)
	defer db.Close()
	var result string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&result); err != nil {
		t.Fatalf("integrity check: %v", err)
	}
	if result != "ok" {
		t.Errorf("integrity check: %s", result)
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatalf("journal mode: %v", err)
	}
	if mode != "wal" {
		t.Errorf("journal mode = %q, want wal", mode)
	}
}

// testLogger logs warnings and errors to stderr. Not t.Log: server goroutines
// may still log after a test has finished.
func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
