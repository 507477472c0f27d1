package reliability

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/embedded"
	"github.com/chaptask/chaptask/internal/testclient"
	"github.com/chaptask/chaptask/jobs"
)

// childCount is how many child jobs the crashed parent fans out to.
const childCount = 20

// TestCrashChildJobs runs the API and a worker as separate processes on
// PostgreSQL against a Temporal server. A fan_out_sum parent starts 20
// calculate_sum child jobs and waits for them; the worker running it is
// killed with SIGKILL while it waits, and a new worker takes over. The
// parent's run step runs again, attaches to the children it had started
// (their ids derive from the parent and a key), and completes: exactly 20
// children exist, each with one artifact, under the parent's artifact.
//
// The first worker runs one job at a time besides the parent (max
// concurrency 2), so children are still queued or running when it dies.
func TestCrashChildJobs(t *testing.T) {
	began := time.Now()
	dbURL := dbtest.PostgresURL(t)
	srv, err := embedded.Start(context.Background(), embedded.Config{FrontendAddr: "127.0.0.1:0", SearchAttributes: jobs.SearchAttributes})
	if err != nil {
		t.Fatalf("start Temporal server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop Temporal server: %v", err)
		}
	})
	env := func(role, concurrency string) map[string]string {
		e := childEnv(t.TempDir())
		e["CHAPTASK_ROLE"] = role
		e["DATABASE_URL"] = dbURL
		e["TEMPORAL_ADDRESS"] = srv.FrontendAddr()
		e["CHAPTASK_MAX_CONCURRENCY"] = concurrency
		return e
	}
	apiProc := start(t, "api", env("api", "2"))
	worker := start(t, "worker", env("worker", "2"))
	c := newClient(apiProc.base)

	sumTask := c.createTask(t, map[string]any{"command": "calculate_sum", "task_type": "python"})
	numbers := make([]int, 2*childCount)
	want := 0
	for i := range numbers {
		numbers[i] = i + 1
		want += i + 1
	}
	fanTask := c.createTask(t, map[string]any{"command": "fan_out_sum", "task_type": "python",
		"parameters": map[string]any{"numbers": numbers, "sum_task_id": sumTask}})
	parentID := c.execute(t, fanTask)

	// Kill the worker once the parent has submitted every child and waits
	// for those not done yet.
	var children []job
	doneAtKill := 0
	testclient.Eventually(t, 2*time.Minute, 10*time.Millisecond, func() bool {
		c.must(t, http.StatusOK, "GET", "/api/v1/jobs?parent_job_id="+parentID, nil, &children)
		doneAtKill = 0
		for _, ch := range children {
			if ch.Status == "completed" {
				doneAtKill++
			}
		}
		if doneAtKill == childCount {
			t.Fatalf("all %d children completed before the worker could be killed", childCount)
		}
		return len(children) == childCount
	}, func() string { return fmt.Sprintf("%d of %d children listed", len(children), childCount) })
	listedAtKill := len(children)
	worker.kill()
	killedAt := time.Now()
	start(t, "worker-restarted", env("worker", "8"))

	var parent job
	testclient.Eventually(t, finishTimeout, 200*time.Millisecond, func() bool {
		c.must(t, http.StatusOK, "GET", "/api/v1/jobs/"+parentID, nil, &parent)
		return parent.Status == "completed" || parent.Status == "failed" || parent.Status == "canceled"
	}, func() string { return "parent is " + parent.Status })
	if parent.Status != "completed" || parent.ArtifactID == nil {
		t.Fatalf("parent ended %s (%s), want completed", parent.Status, deref(parent.Error))
	}
	recovered := time.Since(killedAt)
	var art artifact
	c.must(t, http.StatusOK, "GET", "/api/v1/artifacts/"+*parent.ArtifactID, nil, &art)
	result, _ := art.Data["result"].(map[string]any)
	if art.Data["error"] != nil || result == nil || result["result"] != float64(want) {
		t.Fatalf("parent's artifact: result %v, error %v; want %d", art.Data["result"], art.Data["error"], want)
	}

	c.must(t, http.StatusOK, "GET", "/api/v1/jobs?parent_job_id="+parentID, nil, &children)
	completed := 0
	for _, ch := range children {
		if ch.Status == "completed" {
			completed++
		}
	}
	var sumArtifacts []artifact
	c.must(t, http.StatusOK, "GET", "/api/v1/artifacts?task_id="+sumTask, nil, &sumArtifacts)
	var tree struct {
		Children []artifact `json:"children"`
	}
	c.must(t, http.StatusOK, "GET", "/api/v1/artifacts/"+*parent.ArtifactID+"/$tree", nil, &tree)
	if len(children) != childCount || completed != childCount || len(sumArtifacts) != childCount || len(tree.Children) != childCount {
		t.Errorf("%d children (%d completed), %d sum artifacts, %d artifacts under the parent; want %d of each",
			len(children), completed, len(sumArtifacts), len(tree.Children), childCount)
	}
	t.Logf("FIGURE: crash/children: worker SIGKILLed while the parent waited, with %d of %d children started and %d completed; "+
		"after: %d children, %d completed, %d child artifacts (%d under the parent); parent completed %s after the kill with sum %v; wall %s",
		listedAtKill, childCount, doneAtKill, len(children), completed, len(sumArtifacts), len(tree.Children),
		recovered.Round(100*time.Millisecond), result["result"], time.Since(began).Round(time.Second))
}
