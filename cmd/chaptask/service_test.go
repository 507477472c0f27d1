package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/internal/servicetest"
	"github.com/chaptask/chaptask/internal/testclient"
)

// service is the real binary's run function, started in-process with an
// embedded Temporal server, talking HTTP on a free port.
type service struct {
	t            *testing.T
	base         string
	temporalAddr string
	env          map[string]string
	args         []string
	apiKey       string               // sent as X-API-Key when set
	logs         io.Writer            // also receives the service's log, when set
	running      *servicetest.Service // nil when stopped
	cancel       context.CancelFunc   // of a worker-only service
	done         chan error
}

// startService runs chaptask on the dialect's database, in dataDir.
func startService(t *testing.T, env map[string]string, args ...string) *service {
	t.Helper()
	s := &service{t: t, env: env, args: args}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// newEnv returns the environment of a service on dialect with its own data
// directory and database.
func newEnv(t *testing.T, dialect string) map[string]string {
	t.Helper()
	env := map[string]string{
		"CHAPTASK_DATA_DIR":               t.TempDir(),
		"CHAPTASK_HTTP_ADDR":              "127.0.0.1:0",
		"CHAPTASK_EMBEDDED_TEMPORAL_ADDR": "127.0.0.1:0",
		"CHAPTASK_EMBEDDED_UI_ADDR":       "off",
		"CHAPTASK_LOG_LEVEL":              "warn",
		"PATH":                            os.Getenv("PATH"),
	}
	if dialect == "postgres" {
		env["DATABASE_URL"] = dbtest.PostgresURL(t)
	}
	return env
}

func (s *service) start() {
	s.t.Helper()
	var stderr io.Writer = servicetest.LogWriter{T: s.t}
	if s.logs != nil {
		stderr = io.MultiWriter(stderr, s.logs)
	}
	s.running = servicetest.Start(s.t, func(ctx context.Context, stdout, _ io.Writer) error {
		return run(ctx, append([]string{"chaptask"}, s.args...), func(k string) string { return s.env[k] }, stdout, stderr)
	})
	s.base, s.temporalAddr = s.running.URL, s.running.TemporalAddr
}

// startWorker runs a worker-only service, which never serves HTTP; it is
// ready once its Temporal worker has started.
func (s *service) startWorker() {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan error, 1)
	ready := make(chan struct{})
	logs := &lineWatcher{t: s.t, match: "worker started", found: ready}
	go func() {
		s.done <- run(ctx, []string{"chaptask"}, func(k string) string { return s.env[k] }, io.Discard, logs)
	}()
	select {
	case <-ready:
	case err := <-s.done:
		s.t.Fatalf("worker exited: %v", err)
	}
}

// lineWatcher logs what it is written and closes found at the first write
// containing match.
type lineWatcher struct {
	t     *testing.T
	match string
	found chan struct{}
	once  sync.Once
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	if strings.Contains(string(p), w.match) {
		w.once.Do(func() { close(w.found) })
	}
	return len(p), nil
}

func (s *service) stop() {
	if s.running != nil {
		s.running.Stop()
		s.running = nil
	}
	if s.cancel == nil {
		return
	}
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("run: %v", err)
		}
	case <-time.After(60 * time.Second):
		s.t.Errorf("service did not stop")
	}
	s.cancel = nil
}

// restart stops the service and starts it again on the same data.
func (s *service) restart() {
	s.t.Helper()
	s.stop()
	s.start()
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

func (r reply) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

func (s *service) do(t *testing.T, method, path string, body any) reply {
	t.Helper()
	return s.doHeader(t, method, path, body, nil)
}

// doHeader is do with request headers.
func (s *service) doHeader(t *testing.T, method, path string, body any, header http.Header) reply {
	t.Helper()
	c := testclient.Client{Base: s.base, APIKey: s.apiKey}
	r := c.Do(t, method, path, body, header)
	return reply{r.Status, r.Header, r.Body}
}

func (s *service) want(t *testing.T, r reply, status int) {
	t.Helper()
	testclient.Want(t, testclient.Reply{Status: r.status, Header: r.header, Body: r.body}, status)
}

func (s *service) createTask(t *testing.T, body map[string]any) string {
	t.Helper()
	r := s.do(t, "POST", "/api/v1/tasks", body)
	s.want(t, r, 201)
	return r.object(t)["id"].(string)
}

func (s *service) execute(t *testing.T, taskID string) string {
	t.Helper()
	r := s.do(t, "POST", "/api/v1/tasks/"+taskID+"/$execute", nil)
	s.want(t, r, 202)
	body := r.object(t)
	id := body["job_id"].(string)
	if body["message"] != "Task submitted for execution. Job ID: "+id {
		t.Errorf("message = %v", body["message"])
	}
	return id
}

type job struct {
	ID             string  `json:"id"`
	TaskID         string  `json:"task_id"`
	Status         string  `json:"status"`
	ArtifactID     *string `json:"artifact_id"`
	StartedAt      *string `json:"started_at"`
	FinishedAt     *string `json:"finished_at"`
	Error          *string `json:"error"`
	ErrorTraceback *string `json:"error_traceback"`
}

func (s *service) job(t *testing.T, id string) job {
	t.Helper()
	r := s.do(t, "GET", "/api/v1/jobs/"+id, nil)
	s.want(t, r, 200)
	var j job
	r.decode(t, &j)
	return j
}

// waitStatus polls the job until its status is one of want.
func (s *service) waitStatus(t *testing.T, id string, want ...string) job {
	t.Helper()
	var j job
	testclient.Eventually(t, 60*time.Second, 20*time.Millisecond, func() bool {
		j = s.job(t, id)
		return slices.Contains(want, j.Status)
	}, func() string { return fmt.Sprintf("job %s is %s, want %v", id, j.Status, want) })
	return j
}

// run executes the task, waits for completion and returns the artifact data.
func (s *service) runTask(t *testing.T, taskID string) map[string]any {
	t.Helper()
	j := s.waitStatus(t, s.execute(t, taskID), "completed", "failed", "canceled")
	if j.Status != "completed" || j.ArtifactID == nil {
		t.Fatalf("job %s ended %s (error %v), want completed with an artifact", j.ID, j.Status, deref(j.Error))
	}
	a := s.do(t, "GET", "/api/v1/artifacts/"+*j.ArtifactID, nil)
	s.want(t, a, 200)
	return a.object(t)["data"].(map[string]any)
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func (s *service) temporalClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: s.temporalAddr, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// pidFile returns a path a shell command writes a child's pid to, and a
// function reading it once written.
func pidFile(t *testing.T) (string, func() int) {
	t.Helper()
	path := t.TempDir() + "/pid"
	return path, func() int {
		var pid int
		testclient.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
			raw, err := os.ReadFile(path)
			if err != nil {
				return false
			}
			pid, err = strconv.Atoi(strings.TrimSpace(string(raw)))
			return err == nil
		}, func() string { return "no pid in " + path })
		return pid
	}
}

// processAlive reports whether pid runs (a zombie awaiting its reaper is dead).
func processAlive(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func waitProcessGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	testclient.Eventually(t, within, 10*time.Millisecond, func() bool { return !processAlive(pid) },
		func() string { return fmt.Sprintf("process %d of a canceled job is still alive", pid) })
}

// concurrently runs fn n times at once and waits for all.
func concurrently(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); fn(i) }()
	}
	wg.Wait()
}
