package reliability

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	// hugeOutput is what the command prints between its marker lines.
	hugeOutput = 100_000_000
	// defaultMaxOutput is CHAPTASK_MAX_OUTPUT_BYTES's default: half of it is
	// kept from the head of a stream, half from the tail.
	defaultMaxOutput = 4 << 20
	// maxOutputGrowth bounds how far 100 MB of output may raise the
	// service's peak RSS. Capture keeps at most 1.5 × the limit per stream;
	// the artifact is then encoded, staged and stored a few times over, so
	// tens of MiB are expected. A buffered stream would cost 100+ MiB per copy.
	maxOutputGrowth = 256 << 20
)

// TestLargeOutput runs a command printing 100 MB in the embedded binary with
// the default output limit: the job completes, the artifact keeps the head
// and the tail with the truncation flag and the stream's byte count, and the
// service's memory stays bounded.
func TestLargeOutput(t *testing.T) {
	began := time.Now()
	p := start(t, "chaptask", childEnv(t.TempDir()))
	c := newClient(p.base)

	// Warm up with a small job so the baseline includes a job's usual cost.
	warm := c.createTask(t, map[string]any{"command": "echo warm"})
	c.execute(t, warm)
	c.waitFinished(t, 1, time.Minute)
	idle, idlePeak := p.memory()

	huge := c.createTask(t, map[string]any{
		"command": "echo HEAD; head -c 100000000 /dev/zero | tr '\\0' x; echo; echo TAIL",
	})
	mem := sampleMemory(p, 20*time.Millisecond)
	jobBegan := time.Now()
	jobID := c.execute(t, huge)
	c.waitFinished(t, 2, 3*time.Minute)
	runTime := time.Since(jobBegan)
	peakSampled := mem.stop()
	_, peak := p.memory()

	var j job
	c.must(t, http.StatusOK, "GET", "/api/v1/jobs/"+jobID, nil, &j)
	if j.Status != "completed" || j.ArtifactID == nil {
		t.Fatalf("job %s is %s with artifact %v", jobID, j.Status, deref(j.ArtifactID))
	}
	var a artifact
	c.must(t, http.StatusOK, "GET", "/api/v1/artifacts/"+*j.ArtifactID, nil, &a)
	stdout, _ := a.Data["stdout"].(string)
	wantBytes := float64(len("HEAD\n") + hugeOutput + len("\nTAIL\n"))
	if a.Data["exit_code"] != 0.0 {
		t.Errorf("exit_code = %v, want 0", a.Data["exit_code"])
	}
	if a.Data["stdout_truncated"] != true || a.Data["stdout_bytes"] != wantBytes {
		t.Errorf("stdout_truncated = %v, stdout_bytes = %v; want true, %.0f", a.Data["stdout_truncated"], a.Data["stdout_bytes"], wantBytes)
	}
	if !strings.HasPrefix(stdout, "HEAD\nxxxx") || !strings.HasSuffix(stdout, "xxxx\nTAIL\n") {
		t.Errorf("stdout does not keep the head and the tail: %q … %q", stdout[:min(20, len(stdout))], stdout[max(0, len(stdout)-20):])
	}
	if !strings.Contains(stdout, " bytes omitted ") {
		t.Errorf("stdout does not say bytes were omitted")
	}
	if n := len(stdout); n < defaultMaxOutput || n > defaultMaxOutput+100 {
		t.Errorf("stdout keeps %d bytes, want the %d-byte limit (plus the omission note)", n, defaultMaxOutput)
	}
	if a.Data["stderr"] != "" || a.Data["stderr_truncated"] != nil || a.Data["stderr_bytes"] != nil {
		t.Errorf("stderr %q truncated %v bytes %v; want empty, no flags", a.Data["stderr"], a.Data["stderr_truncated"], a.Data["stderr_bytes"])
	}

	growth := peak - idlePeak
	if growth > maxOutputGrowth {
		t.Errorf("peak RSS grew by %s with 100 MB of output, want under %s", mib(growth), mib(maxOutputGrowth))
	}
	t.Logf("FIGURE: large output: 100 MB printed, %d bytes kept; service RSS %s idle (peak %s before), peak %s after "+
		"(+%s; %s sampled every 20 ms while it ran); job done in %s, wall %s",
		len(stdout), mib(idle), mib(idlePeak), mib(peak), mib(max(0, growth)), mib(peakSampled),
		runTime.Round(100*time.Millisecond), time.Since(began).Round(time.Second))
}
