package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/chaptask/chaptask/db/dbtest"
)

// liveBound is the staleness GET /jobs/{id} promises for a live job (about
// 100 ms; jobs.liveFresh is half of it).
const liveBound = 100 * time.Millisecond

// TestLiveJobReads polls real jobs from several readers at once, as fast as
// they can, while the jobs run: no reader ever sees a job go back (running
// and then pending, or finished and then live), and once Temporal has
// closed a job, a read begun liveBound later shows it finished.
func TestLiveJobReads(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			s := startService(t, newEnv(t, dialect))
			taskID := s.createTask(t, map[string]any{"command": "sleep 0.3; echo hi"})
			tc := s.temporalClient(t)
			const jobs, readers = 4, 3
			ids := make([]string, jobs)
			for i := range ids {
				ids[i] = s.execute(t, taskID)
			}
			rank := map[string]int{"pending": 0, "running": 1, "completed": 2, "failed": 2, "canceled": 2}
			var wg sync.WaitGroup
			for _, id := range ids {
				for r := range readers {
					wg.Go(func() {
						var seen []string
						for {
							status, err := getStatus(s.base + "/api/v1/jobs/" + id)
							if err != nil {
								t.Errorf("job %s, reader %d: %v", id, r, err)
								return
							}
							if n := len(seen); n > 0 && rank[status] < rank[seen[n-1]] {
								t.Errorf("job %s, reader %d: went back to %s after %v", id, r, status, seen)
								return
							}
							if len(seen) == 0 || seen[len(seen)-1] != status {
								seen = append(seen, status)
							}
							if rank[status] == 2 {
								if status != "completed" {
									t.Errorf("job %s ended %s, want completed", id, status)
								}
								return
							}
						}
					})
				}
				// Freshness: wait for Temporal itself to close the job, then a
				// read begun liveBound later must show it finished.
				wg.Go(func() {
					// Not testclient.Eventually: this is not the test's goroutine.
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					tick := time.NewTicker(5 * time.Millisecond)
					defer tick.Stop()
					for {
						desc, err := tc.DescribeWorkflowExecution(ctx, id, "")
						if err != nil {
							t.Errorf("describe %s: %v", id, err)
							return
						}
						if desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
							break
						}
						<-tick.C
					}
					time.Sleep(liveBound) // the promised bound itself, not a synchronisation
					if status, err := getStatus(s.base + "/api/v1/jobs/" + id); err != nil || status != "completed" {
						t.Errorf("job %s: %s (%v) %s after Temporal closed it, want completed", id, status, err, liveBound)
					}
				})
			}
			wg.Wait()
		})
	}
}

// getStatus reads a job's status; safe from any goroutine.
func getStatus(url string) (string, error) {
	res, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, res.Status)
	}
	var j struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(res.Body).Decode(&j); err != nil {
		return "", err
	}
	return j.Status, nil
}
