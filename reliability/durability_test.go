package reliability

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	temporalclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/workflows"
)

// TestLongDatabaseOutage holds PostgreSQL away for longer than any single
// retry of a database step lasts (the old persist step gave up after 30 s)
// while 50 jobs are in flight, some with output too large to wait in
// Temporal. Every job must complete with exactly one artifact whose output
// is byte for byte what its command printed, and its live output ($logs)
// must end with the same bytes. The two outages run side by side, each
// against its own chaptask and proxy.
func TestLongDatabaseOutage(t *testing.T) {
	pgURL := dbtest.PostgresURL(t)
	for _, tc := range []struct {
		name   string
		stall  bool
		outage time.Duration
		local  bool
	}{
		{"refused-120s", false, 120 * time.Second, false},
		{"stalled-60s", true, 60 * time.Second, false},
		// The jobs' run steps are local activities (each task ran once,
		// quickly, before): results wait in the persist step or in the
		// step itself while its workflow task is heartbeated.
		{"refused-30s-local-steps", false, 30 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testLongOutage(t, pgURL, tc.stall, tc.outage, tc.local)
		})
	}
}

// Jobs of the long outage: most print a little; a few print more than the
// run step may hand to Temporal (128 KiB), so their output waits in the
// worker.
const (
	outageSmallJobs = 45
	outageLargeJobs = 5
	outageLargeSize = 300_000
)

func testLongOutage(t *testing.T, pgURL string, stall bool, outage time.Duration, local bool) {
	began := time.Now()
	env := map[string]string{}
	if local {
		// The tasks' first runs take a little over a second.
		env["CHAPTASK_LOCAL_RUN_MAX"] = "5s"
	}
	proxy, p, c := startBehindProxy(t, pgURL, 16, env)

	marks := t.TempDir()
	// Commands wait for the outage to begin, so that every job is in
	// flight when it does and every result has to wait for the database.
	gate := filepath.Join(t.TempDir(), "outage")
	waitGate := "while [ ! -e " + gate + " ]; do sleep 0.05; done; "
	small := c.createTask(t, map[string]any{"command": waitGate + "echo out-$CHAPTASK_JOB_ID; sleep 1; printf 'line %s\\n' 1 2 3; " +
		"echo err-$CHAPTASK_JOB_ID >&2; touch " + marks + "/$CHAPTASK_JOB_ID"})
	large := c.createTask(t, map[string]any{"command": waitGate + fmt.Sprintf("head -c %d /dev/zero | tr '\\0' y; echo; echo $CHAPTASK_JOB_ID; touch %s/$CHAPTASK_JOB_ID",
		outageLargeSize, marks)})
	jobTask := map[string]string{}
	var warmUp []string
	if local {
		// One finished run of each task, with the gate open, makes the
		// next jobs' run steps local.
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, task := range []string{small, large} {
			id := c.execute(t, task)
			jobTask[id], warmUp = task, append(warmUp, id)
		}
		c.waitFinished(t, len(warmUp), time.Minute)
		if err := os.Remove(gate); err != nil {
			t.Fatal(err)
		}
	}
	for i := range outageSmallJobs + outageLargeJobs {
		task := small
		if i%10 == 9 {
			task = large
		}
		jobTask[c.execute(t, task)] = task
	}
	inFlight := len(jobTask) - len(warmUp)
	finishedBefore := countFiles(t, marks)
	want := func(jobID, taskID string) (stdout, stderr string) {
		if taskID == large {
			return strings.Repeat("y", outageLargeSize) + "\n" + jobID + "\n", ""
		}
		return "out-" + jobID + "\nline 1\nline 2\nline 3\n", "err-" + jobID + "\n"
	}

	if stall {
		proxy.stall()
	} else {
		proxy.cut(true)
	}
	outageBegan := time.Now()
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Hold the outage for its whole length, watching that no job gives up
	// (the list answers from Temporal while no job on it needs the
	// database) and counting the commands that finish meanwhile: their
	// results have to wait for the database.
	var finishedDuring int
	var lastCommand time.Duration
	for time.Since(outageBegan) < outage {
		if n := countFiles(t, marks) - finishedBefore; n > finishedDuring {
			finishedDuring, lastCommand = n, time.Since(outageBegan)
		}
		var failed page[job]
		if r, err := c.try("GET", "/api/v1/jobs?page=1&size=1&status_filter=failed", nil); err == nil && r.status == http.StatusOK &&
			decodeJSON(r.body, &failed) == nil && failed.Total > 0 {
			t.Fatalf("%d jobs failed during the outage", failed.Total)
		}
		time.Sleep(min(500*time.Millisecond, outage-time.Since(outageBegan)))
	}
	if finishedDuring < inFlight/2 {
		t.Errorf("only %d of %d commands finished during the outage", finishedDuring, inFlight)
	}
	proxy.up()
	held := time.Since(outageBegan)

	c.waitFinished(t, len(jobTask), 3*time.Minute)
	recovered := time.Since(outageBegan) - held
	lost, dup := c.checkOneArtifactEach(t, jobTask, func(taskID string, data map[string]any) error {
		return nil // checked below, where the job id is known
	})
	logsMatch := 0
	for jobID, taskID := range jobTask {
		var j job
		c.must(t, http.StatusOK, "GET", "/api/v1/jobs/"+jobID, nil, &j)
		if j.ArtifactID == nil {
			continue // counted as lost above
		}
		var a artifact
		c.must(t, http.StatusOK, "GET", "/api/v1/artifacts/"+*j.ArtifactID, nil, &a)
		wantOut, wantErr := want(jobID, taskID)
		if a.Data["stdout"] != wantOut || a.Data["stderr"] != wantErr {
			t.Errorf("job %s: artifact stdout %q stderr %q, want %q and %q",
				jobID, truncate(fmt.Sprint(a.Data["stdout"]), 80), a.Data["stderr"], truncate(wantOut, 80), wantErr)
			continue
		}
		if ok := c.checkLogs(t, jobID, wantOut, wantErr); ok {
			logsMatch++
		}
	}
	if logsMatch != len(jobTask) {
		t.Errorf("the live output of %d of %d jobs matches its artifact", logsMatch, len(jobTask))
	}
	if local {
		checkRunStepsLocal(t, p, jobTask, warmUp)
	}
	mode, steps := "refused", "regular"
	if stall {
		mode = "stalled"
	}
	if local {
		steps = "local"
	}
	t.Logf("FIGURE: long-outage/%s: database %s for %s with %d jobs in flight (%d with output over 128 KiB), %s run steps; "+
		"%d commands finished during it, the last %s into it; all done %s after it ended; %d lost, %d duplicated, %d of %d logs match their artifacts (warm-up jobs included); wall %s",
		mode, mode, held.Round(time.Second), inFlight, outageLargeJobs, steps, finishedDuring, lastCommand.Round(100*time.Millisecond),
		recovered.Round(100*time.Millisecond), lost, dup, logsMatch, len(jobTask), time.Since(began).Round(time.Second))
}

// checkLogs reads a job's whole live output and reports whether its stdout
// and stderr chunks are exactly the streams the artifact holds and the log
// says it is complete.
func (c *client) checkLogs(t *testing.T, jobID, stdout, stderr string) bool {
	t.Helper()
	var streams = map[string]*strings.Builder{"stdout": {}, "stderr": {}, "system": {}}
	var logPage struct {
		NextOffset int64 `json:"next_offset"`
		Complete   bool  `json:"complete"`
		Chunks     []struct {
			Stream string `json:"stream"`
			Data   string `json:"data"`
		} `json:"chunks"`
	}
	for offset := int64(0); ; offset = logPage.NextOffset {
		logPage.Chunks = nil
		c.must(t, http.StatusOK, "GET", fmt.Sprintf("/api/v1/jobs/%s/$logs?offset=%d", jobID, offset), nil, &logPage)
		for _, ch := range logPage.Chunks {
			streams[ch.Stream].WriteString(ch.Data)
		}
		if logPage.Complete || len(logPage.Chunks) == 0 {
			break
		}
	}
	if !logPage.Complete || streams["stdout"].String() != stdout || streams["stderr"].String() != stderr {
		t.Errorf("job %s: $logs complete=%v with stdout %q and stderr %q, want %q and %q",
			jobID, logPage.Complete, truncate(streams["stdout"].String(), 80), streams["stderr"].String(), truncate(stdout, 80), stderr)
		return false
	}
	return true
}

// checkRunStepsLocal reads the histories of the jobs of jobTask other than
// warmUp from the service's embedded Temporal server and fails unless each
// ran its step as a local activity (a marker, no RunTask activity).
func checkRunStepsLocal(t *testing.T, p *proc, jobTask map[string]string, warmUp []string) {
	t.Helper()
	raw, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	var frontend string
	for _, line := range strings.Split(string(raw), "\n") {
		if addr, ok := strings.CutPrefix(line, "chaptask: embedded Temporal frontend on "); ok {
			frontend = addr
		}
	}
	tc, err := temporalclient.Dial(temporalclient.Options{HostPort: frontend, Namespace: "default", Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatalf("dial the embedded Temporal server at %q: %v", frontend, err)
	}
	defer tc.Close()
	regular := 0
	for id := range jobTask {
		if slices.Contains(warmUp, id) {
			continue
		}
		iter := tc.GetWorkflowHistory(t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		markers := 0
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				t.Fatalf("history of job %s: %v", id, err)
			}
			if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == workflows.RunTaskActivity {
				regular++
			}
			if ev.GetMarkerRecordedEventAttributes() != nil {
				markers++
			}
		}
		if markers == 0 {
			t.Errorf("job %s recorded no local run step", id)
		}
	}
	if regular > 0 {
		t.Errorf("%d jobs ran their step as a regular activity after their task's short first run", regular)
	}
}
