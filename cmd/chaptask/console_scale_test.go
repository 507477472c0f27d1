package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/chaptask/chaptask/internal/testclient"
)

// TestConsoleScale measures the console's job list with many finished jobs:
// how long the first page, a status filter and page 2 take to show, and
// what the page downloads, at 25 jobs and at CHAPTASK_CONSOLE_SCALE jobs.
// It seeds the jobs through the real API on SQLite. Without the variable it
// runs at 60 jobs (three pages: the filter and page 2 are exercised in every
// run); 10,000 takes minutes, so that scale runs only when asked. Figures
// are logged, never asserted: the test checks only that the right rows show.
func TestConsoleScale(t *testing.T) {
	n := 60
	if raw := os.Getenv("CHAPTASK_CONSOLE_SCALE"); raw != "" {
		var err error
		if n, err = strconv.Atoi(raw); err != nil || n < 50 {
			t.Fatalf("CHAPTASK_CONSOLE_SCALE=%q: want a number of jobs of at least 50", raw)
		}
	}
	chromiumPath(t)
	env := consoleEnv(t)
	env["CHAPTASK_MAX_CONCURRENCY"] = "8"
	s := startService(t, env)
	// Most jobs succeed (exit 0); one in ten is canceled as soon as it is
	// submitted, so a status filter has a tenth of the jobs to find.
	shellTask := s.createTask(t, map[string]any{"command": "true"})
	cancelTask := s.createTask(t, map[string]any{"command": "sleep 300"})

	seeded := 0
	for _, target := range []int{25, n} {
		seedJobs(t, s, seeded, target, shellTask, cancelTask)
		seeded = target
		// A subtest, so that each browser is gone before the next starts.
		t.Run(fmt.Sprintf("%d jobs", target), func(t *testing.T) { measureJobList(t, s, target) })
	}
}

// seedJobs runs jobs number from up to to, many clients at once, each
// waiting for its job to finish before it submits the next.
func seedJobs(t *testing.T, s *service, from, to int, shellTask, cancelTask string) {
	t.Helper()
	const clients = 32
	c := testclient.Client{Base: s.base, HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}}
	start := time.Now()
	var next atomic.Int64
	next.Store(int64(from))
	var odd atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= to || t.Failed() {
					return
				}
				task, cancel := shellTask, i%10 == 9
				if cancel {
					task = cancelTask
				}
				r, err := c.Try("POST", "/api/v1/tasks/"+task+"/$execute", nil, nil)
				if err != nil || r.Status != http.StatusAccepted {
					t.Errorf("execute job %d: %v %d %s", i, err, r.Status, r.Body)
					return
				}
				var job struct {
					ID     string `json:"job_id"`
					Status string `json:"status"`
				}
				if err := json.Unmarshal(r.Body, &job); err != nil {
					t.Errorf("execute job %d: %v", i, err)
					return
				}
				if cancel {
					if r, err := c.Try("DELETE", "/api/v1/jobs/"+job.ID, nil, nil); err != nil || r.Status != http.StatusNoContent {
						t.Errorf("cancel job %s: %v %d %s", job.ID, err, r.Status, r.Body)
						return
					}
				}
				for id := job.ID; ; {
					r, err := c.Try("GET", "/api/v1/jobs/"+id+"?wait=30s", nil, nil)
					if err == nil && r.Status == http.StatusOK {
						err = json.Unmarshal(r.Body, &job)
					}
					if err != nil || r.Status != http.StatusOK {
						t.Errorf("wait for job %s: %v %d %s", id, err, r.Status, r.Body)
						return
					}
					if st := job.Status; st != "pending" && st != "running" {
						if want := map[bool]string{false: "completed", true: "canceled"}[cancel]; st != want {
							odd.Add(1)
						}
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if odd.Load() > 0 {
		t.Fatalf("%d jobs ended otherwise than completed (true) or canceled (sleep 300)", odd.Load())
	}
	took := time.Since(start)
	t.Logf("FIGURE: console/scale: seeded jobs %d to %d in %s (%.1f jobs/s, %d clients)", from, to, took.Round(time.Second), float64(to-from)/took.Seconds(), clients)
	// The list reads Temporal's visibility, which follows the jobs' ends
	// by a moment.
	testclient.Eventually(t, 2*time.Minute, 200*time.Millisecond, func() bool {
		var page struct{ Total int }
		s.do(t, "GET", "/api/v1/jobs?page=1&size=1", nil).decode(t, &page)
		return page.Total == to
	}, func() string { return fmt.Sprintf("the job list does not count %d jobs", to) })
}

// traffic counts what the tab requests and downloads.
type traffic struct {
	mu       sync.Mutex
	requests int // API calls and assets
	api      int // API calls only
	bytes    float64
}

// take answers the counts since the last take, as "N requests (M to the
// API), K KB" with the bytes on the wire, headers included.
func (tr *traffic) take() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	s := fmt.Sprintf("%d requests (%d to the API), %.1f KB", tr.requests, tr.api, tr.bytes/1000)
	tr.requests, tr.api, tr.bytes = 0, 0, 0
	return s
}

// measureJobList opens the job list in a fresh browser (nothing cached)
// and times what a person waits for, logging FIGURE lines.
func measureJobList(t *testing.T, s *service, total int) {
	t.Helper()
	p := openConsole(t, s.base)
	tr := &traffic{}
	chromedp.ListenTarget(p.ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			tr.mu.Lock()
			tr.requests++
			if strings.HasPrefix(ev.Request.URL, s.base+"/api/") {
				tr.api++
			}
			tr.mu.Unlock()
		case *network.EventLoadingFinished:
			tr.mu.Lock()
			tr.bytes += ev.EncodedDataLength
			tr.mu.Unlock()
		}
	})
	// shown times, in the page's own clock, from start (ms since the
	// navigation began, or the window.t0 an action set) until the table is
	// a new one (the old is marked stale) with want rows whose outcomes
	// have all arrived. It polls on every change of the page, so the time
	// is when the page got there, not when the test looked.
	shown := func(what string, want int, rowCheck string) float64 {
		t.Helper()
		cond := fmt.Sprintf(`(() => {
			const table = document.getElementById("jobs-table");
			if (!table || table.dataset.stale) return false;
			const rows = [...table.querySelectorAll("tr[data-job]")];
			if (rows.length !== %d || !rows.every((r) => %s)) return false;
			if (!rows.every((r) => r.children[6].textContent !== "" && r.children[6].textContent !== "…")) return false;
			return performance.now() - (window.t0 || 0);
		})()`, want, rowCheck)
		var ms float64
		if err := chromedp.Run(p.ctx, chromedp.Poll(cond, &ms, chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(browserWait))); err != nil {
			var text string
			_ = chromedp.Run(p.ctx, chromedp.Evaluate(`document.getElementById("view").innerText.slice(0, 2000)`, &text))
			t.Fatalf("waiting for %s: %v\npage shows:\n%s", what, err, text)
		}
		return ms
	}
	// act marks the table stale and starts the clock, then does action.
	act := func(action string) {
		t.Helper()
		p.run(chromedp.Evaluate(`document.getElementById("jobs-table").dataset.stale = "1"; window.t0 = performance.now(); `+action, nil))
	}
	pagerSays := func(want string) {
		t.Helper()
		p.waitFor("the pager's "+want, textOf("#view .pager, #view p.muted.small")+fmt.Sprintf(`.includes(%q)`, want))
	}

	firstPage := min(total, 25)
	p.open("#/jobs")
	first := shown("the first page", firstPage, "true")
	pagerSays(fmt.Sprintf("%d in all", total))
	t.Logf("FIGURE: console/scale %d jobs: first page of %d jobs with outcomes shown %.0f ms after navigation (nothing cached); %s", total, firstPage, first, tr.take())

	canceled := total / 10
	act(`const sel = document.getElementById("status-filter"); sel.value = "canceled"; sel.dispatchEvent(new Event("change"));`)
	filtered := shown("the canceled jobs", min(canceled, 25), `r.dataset.status === "canceled"`)
	pagerSays(fmt.Sprintf("%d in all", canceled))
	t.Logf("FIGURE: console/scale %d jobs: status filter (canceled, %d match) shown in %.0f ms; %s", total, canceled, filtered, tr.take())

	if total <= 25 {
		t.Logf("FIGURE: console/scale %d jobs: page 2: none (one page)", total)
		return
	}
	act(`location.hash = "#/jobs";`)
	shown("the first page again", 25, "true")
	var firstIDs string
	p.run(chromedp.Evaluate(`[...document.querySelectorAll("#jobs-table tr[data-job]")].map((r) => r.dataset.job).join()`, &firstIDs))
	tr.take()
	act(`[...document.querySelectorAll("#view .pager button")].find((b) => b.textContent.startsWith("Older")).click();`)
	second := shown("page 2", 25, fmt.Sprintf(`!%q.includes(r.dataset.job)`, firstIDs))
	pagerSays(fmt.Sprintf("page 2 of %d", (total+24)/25))
	t.Logf("FIGURE: console/scale %d jobs: page 2 shown in %.0f ms; %s", total, second, tr.take())
}
