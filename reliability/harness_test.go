package reliability

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chaptask/chaptask/internal/testclient"
)

// binary is the chaptask executable TestMain builds once for every test.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chaptask-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "chaptask")
	build := exec.Command("go", "build", "-buildvcs=false", "-o", binary, "github.com/chaptask/chaptask/cmd/chaptask")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build chaptask:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startTimeout bounds a child's start: an embedded Temporal server on a
// busy two-core machine can take a while.
const startTimeout = 3 * time.Minute

// proc is one chaptask child process.
type proc struct {
	t       *testing.T
	name    string
	cmd     *exec.Cmd
	base    string // http://host:port of the API; "" for a worker
	logPath string
	exited  chan struct{}
}

// childEnv is the environment every child gets besides the test's own
// settings: a quiet, isolated service with the UI off.
func childEnv(dataDir string) map[string]string {
	return map[string]string{
		"PATH":                            os.Getenv("PATH"),
		"HOME":                            os.Getenv("HOME"),
		"CHAPTASK_DATA_DIR":               dataDir,
		"CHAPTASK_HTTP_ADDR":              "127.0.0.1:0",
		"CHAPTASK_EMBEDDED_TEMPORAL_ADDR": "127.0.0.1:0",
		"CHAPTASK_EMBEDDED_UI_ADDR":       "off",
		"CHAPTASK_SEED_EXAMPLES":          "false",
		"CHAPTASK_LOG_LEVEL":              "info",
	}
}

// start runs the binary with env and returns once it serves HTTP, or, for
// CHAPTASK_ROLE=worker, once its worker has started. Its logs go to a file
// shown when the test fails; it is stopped when the test ends.
func start(t *testing.T, name string, env map[string]string) *proc {
	t.Helper()
	return startCommand(t, name, env, exec.Command(binary))
}

// startLimited is start with the child's open-file limit (soft and hard)
// set to nofile, as "ulimit -n" would.
func startLimited(t *testing.T, name string, env map[string]string, nofile int) *proc {
	t.Helper()
	return startCommand(t, name, env, exec.Command("/bin/sh", "-c", `ulimit -n "$1" && exec "$0"`, binary, strconv.Itoa(nofile)))
}

// startCommand is start with the command that runs the binary.
func startCommand(t *testing.T, name string, env map[string]string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{t: t, name: name, exited: make(chan struct{})}
	logFile, err := os.CreateTemp(t.TempDir(), name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	p.logPath = logFile.Name()
	p.cmd = cmd
	// A test binary that dies (timeout, panic) takes its children along.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}

	worker := env["CHAPTASK_ROLE"] == "worker"
	ready := make(chan string, 1)
	var logMu sync.Mutex
	var copying sync.WaitGroup
	scan := func(r io.Reader) {
		defer copying.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			logMu.Lock()
			fmt.Fprintln(logFile, line)
			logMu.Unlock()
			if addr, ok := strings.CutPrefix(line, "chaptask: serving HTTP on "); ok && !worker {
				ready <- addr
			}
			if worker && strings.Contains(line, "worker started") {
				ready <- ""
			}
		}
	}
	copying.Add(2)
	go scan(stdout)
	go scan(stderr)
	go func() {
		copying.Wait()
		p.cmd.Wait() //nolint:errcheck // a killed child "fails"; its log tells why
		logFile.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			p.showLog(80)
		}
	})

	select {
	case p.base = <-ready:
	case <-p.exited:
		p.showLog(80)
		t.Fatalf("%s exited before it was ready", name)
	case <-time.After(startTimeout):
		p.showLog(80)
		t.Fatalf("%s not ready after %s", name, startTimeout)
	}
	return p
}

// kill sends SIGKILL: no shutdown code runs, as when a machine dies.
func (p *proc) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatalf("kill %s: %v", p.name, err)
	}
	<-p.exited
}

// stop asks the child to shut down gracefully, and kills it if it will not.
func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		p.t.Errorf("%s did not stop within 60 s of SIGTERM; killing it", p.name)
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
}

func (p *proc) showLog(lines int) {
	raw, err := os.ReadFile(p.logPath)
	if err != nil {
		return
	}
	all := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	p.t.Logf("last %d log lines of %s:\n%s", lines, p.name, strings.Join(all[max(0, len(all)-lines):], "\n"))
}

// memory reads the child's current and peak resident set sizes in bytes.
func (p *proc) memory() (rss, peak int64) {
	p.t.Helper()
	rss, peak, err := readMemory(p.cmd.Process.Pid)
	if err != nil {
		p.t.Fatalf("read memory of %s: %v", p.name, err)
	}
	return rss, peak
}

// readMemory reads VmRSS and VmHWM (the peak) of a process, in bytes.
func readMemory(pid int) (rss, peak int64, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return rss, peak, nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// client talks HTTP to a chaptask API. Every request has a timeout, so a
// hanging endpoint fails the test instead of stalling it.
type client struct {
	base string
	http *http.Client
}

// requestTimeout is far above any healthy answer; an endpoint that takes
// longer counts as hanging.
const requestTimeout = 15 * time.Second

func newClient(base string) *client {
	return &client{base: base, http: &http.Client{
		Timeout:   requestTimeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128},
	}}
}

// reply is an HTTP answer read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string {
	return fmt.Sprintf("%d %s", r.status, truncate(string(r.body), 300))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// try sends a request; body, if not nil, is sent as JSON.
func (c *client) try(method, path string, body any) (reply, error) {
	return c.tryHeader(method, path, body, nil)
}

// tryHeader is try with request headers.
func (c *client) tryHeader(method, path string, body any, header http.Header) (reply, error) {
	tc := testclient.Client{Base: c.base, HTTP: c.http}
	r, err := tc.Try(method, path, body, header)
	return reply{r.Status, r.Header, r.Body}, err
}

// retryAfter returns the delay a 503 asks the client to wait before trying
// again, and false for any other answer (a 503 without Retry-After too).
func retryAfter(r reply) (time.Duration, bool) {
	if r.status != http.StatusServiceUnavailable {
		return 0, false
	}
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 0 {
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}

// must sends a request and fails the test unless it answers want.
func (c *client) must(t *testing.T, want int, method, path string, body any, out any) {
	t.Helper()
	r, err := c.try(method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != want {
		t.Fatalf("%s %s: %s, want %d", method, path, r, want)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, truncate(string(r.body), 300), err)
		}
	}
}

func (c *client) createTask(t *testing.T, body map[string]any) string {
	t.Helper()
	var task struct {
		ID string `json:"id"`
	}
	c.must(t, http.StatusCreated, "POST", "/api/v1/tasks", body, &task)
	return task.ID
}

func (c *client) execute(t *testing.T, taskID string) string {
	t.Helper()
	var out struct {
		JobID string `json:"job_id"`
	}
	c.must(t, http.StatusAccepted, "POST", "/api/v1/tasks/"+taskID+"/$execute", nil, &out)
	return out.JobID
}

// job is what the tests read of a job record.
type job struct {
	ID         string  `json:"id"`
	TaskID     string  `json:"task_id"`
	Status     string  `json:"status"`
	ArtifactID *string `json:"artifact_id"`
	Error      *string `json:"error"`
}

type artifact struct {
	ID   string         `json:"id"`
	Data map[string]any `json:"data"`
}

type page[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
}

// countJobs returns how many jobs have the status, as the API lists them.
func (c *client) countJobs(t *testing.T, status string) int {
	t.Helper()
	var p page[job]
	c.must(t, http.StatusOK, "GET", "/api/v1/jobs?page=1&size=1&status_filter="+status, nil, &p)
	return p.Total
}

// waitFinished polls the job counts until n jobs are terminal and fails the
// test if any of them did not complete.
func (c *client) waitFinished(t *testing.T, n int, within time.Duration) {
	t.Helper()
	var completed, failed, canceled int
	testclient.Eventually(t, within, 500*time.Millisecond, func() bool {
		completed, failed, canceled = c.countJobs(t, "completed"), c.countJobs(t, "failed"), c.countJobs(t, "canceled")
		return completed+failed+canceled >= n
	}, func() string {
		return fmt.Sprintf("%d of %d jobs terminal (%d completed, %d failed, %d canceled)", completed+failed+canceled, n, completed, failed, canceled)
	})
	if failed+canceled > 0 {
		var failedJobs []job
		c.must(t, http.StatusOK, "GET", "/api/v1/jobs?status_filter=failed", nil, &failedJobs)
		for _, j := range failedJobs[:min(5, len(failedJobs))] {
			t.Logf("failed job %s: %s", j.ID, deref(j.Error))
		}
		t.Fatalf("%d jobs failed and %d were canceled; want all %d completed", failed, canceled, n)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// checkOneArtifactEach verifies that every job completed with an artifact of
// its own, that the artifact holds what check expects for the job's task,
// and that each task has exactly as many artifacts as jobs: nothing lost,
// nothing stored twice. It returns the jobs lost and artifacts duplicated.
func (c *client) checkOneArtifactEach(t *testing.T, jobTask map[string]string, check func(taskID string, data map[string]any) error) (lost, duplicated int) {
	t.Helper()
	seen := map[string]string{}
	perTask := map[string]int{}
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range jobTask {
			if !yield(id) {
				return
			}
		}
	})
	for _, id := range ids {
		taskID := jobTask[id]
		perTask[taskID]++
		var j job
		c.must(t, http.StatusOK, "GET", "/api/v1/jobs/"+id, nil, &j)
		if j.Status != "completed" || j.ArtifactID == nil {
			t.Errorf("job %s is %s with artifact %v, want completed with one", id, j.Status, deref(j.ArtifactID))
			lost++
			continue
		}
		if other, ok := seen[*j.ArtifactID]; ok {
			t.Errorf("jobs %s and %s share artifact %s", other, id, *j.ArtifactID)
		}
		seen[*j.ArtifactID] = id
		var a artifact
		c.must(t, http.StatusOK, "GET", "/api/v1/artifacts/"+*j.ArtifactID, nil, &a)
		if err := check(taskID, a.Data); err != nil {
			t.Errorf("job %s: artifact %s: %v", id, a.ID, err)
		}
	}
	for taskID, want := range perTask {
		var p page[artifact]
		c.must(t, http.StatusOK, "GET", "/api/v1/artifacts?page=1&size=1&task_id="+taskID, nil, &p)
		if p.Total > want {
			duplicated += p.Total - want
		}
		if p.Total != want {
			t.Errorf("task %s has %d artifacts for %d jobs", taskID, p.Total, want)
		}
	}
	return lost, duplicated
}

// countLines counts the lines of path, and the distinct ones.
func countLines(t *testing.T, path string) (lines, distinct int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(raw)), "\n") {
		if line != "" {
			lines++
			set[line] = true
		}
	}
	return lines, len(set)
}

func decodeJSON(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode %s: %w", truncate(string(raw), 300), err)
	}
	return nil
}

// logged reports whether the child has logged a line holding every one of
// the strings.
func (p *proc) logged(parts ...string) bool {
	raw, err := os.ReadFile(p.logPath)
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		found := true
		for _, part := range parts {
			found = found && strings.Contains(line, part)
		}
		if found {
			return true
		}
	}
	return false
}
