package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chaptask/chaptask"
	"github.com/chaptask/chaptask/cli"
	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/embedded/inprocess"
	"github.com/chaptask/chaptask/internal/servicetest"
	"github.com/chaptask/chaptask/internal/testclient"
	"github.com/chaptask/chaptask/registry"
)

// TestCLI drives the client against a real chaptask service (embedded
// Temporal, each database) started in-process: the test binary links the
// server, the client binary does not.
func TestCLI(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			s := startService(t, dialect)
			t.Run("shell exit code", func(t *testing.T) { testShellExitCode(t, s) })
			t.Run("run --wait --json", func(t *testing.T) { testRunJSON(t, s) })
			t.Run("function tasks", func(t *testing.T) { testFunctions(t, s) })
			t.Run("tasks", func(t *testing.T) { testTasks(t, s) })
			t.Run("jobs list", func(t *testing.T) { testJobsList(t, s) })
			t.Run("jobs cancel", func(t *testing.T) { testJobsCancel(t, s) })
			t.Run("artifacts", func(t *testing.T) { testArtifacts(t, s) })
			t.Run("errors", func(t *testing.T) { testErrors(t, s) })
		})
	}
}

// TestCLIAPIKey: against a service that wants a key, the client sends
// CHAPTASK_API_KEY and, without it, reports the 401 and exits 5.
func TestCLIAPIKey(t *testing.T) {
	s := startServiceEnv(t, "sqlite", map[string]string{"CHAPTASK_API_KEYS": "cli-key-4f1a"})
	denied := s.cli(t, "tasks", "list")
	if denied.code != 5 || !strings.Contains(denied.stderr, "Unauthorized") || denied.stdout != "" {
		t.Fatalf("without a key: %v", denied)
	}
	s.apiKey = "cli-key-4f1a"
	s.ok(t, "tasks", "list")
	id := s.createTask(t, "--command", "echo keyed")
	if r := s.cli(t, "tasks", "run", id, "--wait"); r.code != 0 || r.stdout != "keyed\n" {
		t.Fatalf("run --wait with a key: %v", r)
	}
}

// service is chaptask.Run serving HTTP on a free port.
type service struct {
	url    string
	apiKey string // CHAPTASK_API_KEY of the client, when set
}

type addParams struct {
	A int `json:"a"`
	B int `json:"b"`
}

type stepsParams struct {
	Steps int `json:"steps" default:"3"`
}

func registerTestFunctions(reg *registry.Registry) error {
	if err := registry.Add(reg, "add", func(_ context.Context, p addParams) (int, error) {
		return p.A + p.B, nil
	}); err != nil {
		return err
	}
	if err := registry.Add(reg, "refuse", func(_ context.Context, p addParams) (int, error) {
		return 0, registry.Errorf("ValueError", "cannot add %d and %d", p.A, p.B)
	}); err != nil {
		return err
	}
	return reg.Register("steps", func(_ context.Context, p stepsParams, progress *registry.Progress) (string, error) {
		for i := range p.Steps {
			progress.Report(float64(100*(i+1)/p.Steps), fmt.Sprintf("step %d of %d", i+1, p.Steps))
		}
		return fmt.Sprintf("%d steps done", p.Steps), nil
	})
}

func startService(t *testing.T, dialect string) *service {
	t.Helper()
	return startServiceEnv(t, dialect, nil)
}

// startServiceEnv starts the service with extra environment variables.
func startServiceEnv(t *testing.T, dialect string, extra map[string]string) *service {
	t.Helper()
	env := map[string]string{"PATH": os.Getenv("PATH")}
	for k, v := range extra {
		env[k] = v
	}
	if dialect == "postgres" {
		env["DATABASE_URL"] = dbtest.PostgresURL(t)
	}
	svc := servicetest.Start(t, func(ctx context.Context, stdout, stderr io.Writer) error {
		return chaptask.Run(ctx, chaptask.Options{
			Args: []string{"chaptask",
				"-http-addr", "127.0.0.1:0",
				"-embedded-temporal-addr", "127.0.0.1:0",
				"-embedded-ui-addr", "off",
				"-data-dir", t.TempDir(),
				"-log-level", "warn",
			},
			Getenv:           func(k string) string { return env[k] },
			Stdout:           stdout,
			Stderr:           stderr,
			Register:         registerTestFunctions,
			EmbeddedTemporal: inprocess.Start,
		})
	})
	return &service{url: svc.URL}
}

// result is one run of the client.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %q\nstderr: %q", r.code, r.stdout, r.stderr)
}

// cli runs the client against the service, its address in CHAPTASK_URL.
func (s *service) cli(t *testing.T, args ...string) result {
	t.Helper()
	return s.cliIn(t, "", args...)
}

func (s *service) cliIn(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string {
		switch k {
		case "CHAPTASK_URL":
			return s.url
		case "CHAPTASK_API_KEY":
			return s.apiKey
		}
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, append([]string{"chaptask-cli"}, args...), getenv, strings.NewReader(stdin), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// ok runs the client and fails the test unless it exits 0.
func (s *service) ok(t *testing.T, args ...string) result {
	t.Helper()
	r := s.cli(t, args...)
	if r.code != 0 {
		t.Fatalf("chaptask-cli %s:\n%s", strings.Join(args, " "), r)
	}
	return r
}

// createTask creates a task with the given flags and returns its id.
func (s *service) createTask(t *testing.T, flags ...string) string {
	t.Helper()
	id := strings.TrimSpace(s.ok(t, append([]string{"tasks", "create"}, flags...)...).stdout)
	if len(id) != 26 {
		t.Fatalf("tasks create printed %q, want an id", id)
	}
	return id
}

func decode[T any](t *testing.T, raw string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("decode %q: %v", raw, err)
	}
	return v
}

type waitOutput struct {
	Job struct {
		ID         string  `json:"id"`
		TaskID     string  `json:"task_id"`
		Status     string  `json:"status"`
		ArtifactID *string `json:"artifact_id"`
	} `json:"job"`
	Artifact *struct {
		ID   string         `json:"id"`
		Data map[string]any `json:"data"`
	} `json:"artifact"`
}

func testShellExitCode(t *testing.T, s *service) {
	id := s.createTask(t, "--command", "echo hi; echo oops >&2; exit 3")
	r := s.cli(t, "tasks", "run", id, "--wait")
	if r.code != 3 || r.stdout != "hi\n" || !strings.Contains(r.stderr, "oops\n") {
		t.Errorf("run --wait of exit 3:\n%s", r)
	}
	// Not a terminal: progress is plain lines, ending with the outcome.
	if !strings.Contains(r.stderr, ": completed after ") {
		t.Errorf("no progress line in stderr %q", r.stderr)
	}

	id = s.createTask(t, "--command", "echo fine")
	if r := s.cli(t, "-q", "tasks", "run", "--wait", id); r.code != 0 || r.stdout != "fine\n" || r.stderr != "" {
		t.Errorf("run -q --wait of a succeeding command:\n%s", r)
	}
	// A command killed by a signal exits as a shell reports it: 128+N.
	id = s.createTask(t, "--command", "kill -TERM $$")
	if r := s.cli(t, "tasks", "run", id, "--wait"); r.code != 128+15 {
		t.Errorf("run --wait of a command killed by SIGTERM:\n%s", r)
	}
}

func testRunJSON(t *testing.T, s *service) {
	id := s.createTask(t, "--command", "echo hi; exit 3")
	r := s.cli(t, "tasks", "run", id, "--wait", "--json")
	if r.code != 3 || r.stderr != "" {
		t.Fatalf("run --wait --json:\n%s", r)
	}
	out := decode[waitOutput](t, r.stdout)
	if out.Job.Status != "completed" || out.Job.TaskID != id || out.Artifact == nil || out.Job.ArtifactID == nil || out.Artifact.ID != *out.Job.ArtifactID {
		t.Fatalf("output: %s", r.stdout)
	}
	if d := out.Artifact.Data; d["stdout"] != "hi\n" || d["exit_code"] != 3.0 {
		t.Errorf("artifact data: %v", d)
	}

	// Without --wait, run prints the job id (or the API's reply).
	jobID := strings.TrimSpace(s.ok(t, "tasks", "run", id).stdout)
	reply := decode[map[string]any](t, s.ok(t, "--json", "tasks", "run", id).stdout)
	if len(jobID) != 26 || reply["job_id"] == nil || !strings.HasPrefix(reply["message"].(string), "Task submitted") {
		t.Errorf("run: %q, run --json: %v", jobID, reply)
	}
	// watch attaches to a job already submitted and ends the same way.
	if r := s.cli(t, "jobs", "watch", jobID); r.code != 3 || r.stdout != "hi\n" {
		t.Errorf("jobs watch:\n%s", r)
	}
}

func testFunctions(t *testing.T, s *service) {
	add := s.createTask(t, "--type", "go", "--command", "add", "--parameters", `{"a": 2, "b": 40}`)
	if r := s.cli(t, "tasks", "run", add, "--wait"); r.code != 0 || r.stdout != "42\n" {
		t.Errorf("run --wait of add:\n%s", r)
	}

	// "--parameters -" reads them from stdin.
	refuse := strings.TrimSpace(s.cliIn(t, `{"a": 1, "b": 2}`, "tasks", "create", "--type", "python", "--command", "refuse", "--parameters", "-").stdout)
	r := s.cli(t, "tasks", "run", refuse, "--wait", "--traceback")
	if r.code != cli.ExitError || r.stdout != "" || !strings.Contains(r.stderr, "error: ValueError: cannot add 1 and 2\n") {
		t.Errorf("run --wait of a failing function:\n%s", r)
	}
	r = s.cli(t, "tasks", "run", refuse, "--wait", "--json")
	out := decode[waitOutput](t, r.stdout)
	if r.code != cli.ExitError || out.Artifact == nil || out.Artifact.Data["error"].(map[string]any)["type"] != "ValueError" {
		t.Errorf("run --wait --json of a failing function:\n%s", r)
	}

	// A function reporting progress runs to its result whether or not the
	// server passes the progress on.
	steps := s.createTask(t, "--type", "go", "--command", "steps", "--parameters", `{"steps": 4}`)
	if r := s.cli(t, "tasks", "run", steps, "--wait"); r.code != 0 || r.stdout != "4 steps done\n" {
		t.Errorf("run --wait of steps:\n%s", r)
	}
}

func testTasks(t *testing.T, s *service) {
	id := s.createTask(t, "--command", "echo listed", "--disabled")
	got := decode[map[string]any](t, s.ok(t, "tasks", "get", id, "--json").stdout)
	if got["id"] != id || got["command"] != "echo listed" || got["enabled"] != false || got["task_type"] != "shell" {
		t.Errorf("tasks get --json: %v", got)
	}
	if r := s.ok(t, "tasks", "get", id); !strings.Contains(r.stdout, "command:") || !strings.Contains(r.stdout, "echo listed") {
		t.Errorf("tasks get:\n%s", r)
	}
	disabled := decode[[]map[string]any](t, s.ok(t, "--json", "tasks", "list", "--enabled", "false").stdout)
	if len(disabled) != 1 || disabled[0]["id"] != id {
		t.Errorf("tasks list --enabled false: %v", disabled)
	}
	if r := s.ok(t, "tasks", "list"); !strings.Contains(r.stdout, "ID") || !strings.Contains(r.stdout, id) {
		t.Errorf("tasks list:\n%s", r)
	}
	pg := decode[map[string]any](t, s.ok(t, "tasks", "list", "--json", "--size", "2").stdout)
	if pg["page"] != 1.0 || pg["size"] != 2.0 || len(pg["items"].([]any)) != 2 {
		t.Errorf("tasks list --size 2: %v", pg)
	}
	if r := s.cli(t, "tasks", "run", id); r.code != cli.ExitAPI || !strings.Contains(r.stderr, "error: Bad Request: Cannot execute disabled task "+id) {
		t.Errorf("run of a disabled task:\n%s", r)
	}
	if r := s.ok(t, "tasks", "delete", id); r.stdout != "deleted task "+id+"\n" {
		t.Errorf("tasks delete:\n%s", r)
	}
	if r := s.cli(t, "tasks", "get", id); r.code != cli.ExitAPI || !strings.Contains(r.stderr, "error: Not Found: ") {
		t.Errorf("get of a deleted task:\n%s", r)
	}
}

func testJobsList(t *testing.T, s *service) {
	id := s.createTask(t, "--command", "true")
	out := decode[waitOutput](t, s.ok(t, "tasks", "run", id, "--wait", "--json").stdout)
	// Lists come from Temporal's visibility, which learns of the job's end
	// a moment after the job record does: wait for what is asserted.
	var jobs, all []map[string]any
	listed := func(list []map[string]any) bool {
		for _, j := range list {
			if j["id"] == out.Job.ID && j["status"] == "completed" {
				return true
			}
		}
		return false
	}
	testclient.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		jobs = decode[[]map[string]any](t, s.ok(t, "jobs", "list", "--json", "--task", id).stdout)
		all = decode[[]map[string]any](t, s.ok(t, "jobs", "list", "--json", "--status", "completed").stdout)
		return listed(jobs) && listed(all)
	}, func() string {
		return fmt.Sprintf("job %s not listed completed: --task gives %v; --status completed lacks it", out.Job.ID, jobs)
	})
	if len(jobs) != 1 {
		t.Errorf("jobs list --task: %v", jobs)
	}
	for _, j := range all {
		if j["status"] != "completed" {
			t.Errorf("jobs list --status completed holds %v", j)
		}
	}
	if r := s.ok(t, "jobs", "list"); !strings.Contains(r.stdout, out.Job.ID) {
		t.Errorf("jobs list:\n%s", r)
	}
	if r := s.ok(t, "jobs", "get", out.Job.ID); !strings.Contains(r.stdout, "status:") || !strings.Contains(r.stdout, "completed") {
		t.Errorf("jobs get:\n%s", r)
	}
	if r := s.ok(t, "jobs", "delete", out.Job.ID, "--json"); decode[map[string]any](t, r.stdout)["deleted"] != true {
		t.Errorf("jobs delete --json:\n%s", r)
	}
}

func testJobsCancel(t *testing.T, s *service) {
	id := s.createTask(t, "--command", "sleep 300")
	jobID := strings.TrimSpace(s.ok(t, "tasks", "run", id).stdout)
	waitRunning(t, s, jobID)
	if r := s.ok(t, "jobs", "cancel", jobID, "--wait"); r.stdout != "job "+jobID+" canceled\n" {
		t.Errorf("jobs cancel --wait:\n%s", r)
	}
	if r := s.cli(t, "jobs", "watch", jobID); r.code != cli.ExitJobCanceled || !strings.Contains(r.stderr, "was canceled") {
		t.Errorf("jobs watch of a canceled job:\n%s", r)
	}
	if r := s.cli(t, "jobs", "cancel", jobID); r.code != cli.ExitError || !strings.Contains(r.stderr, "already finished (canceled)") {
		t.Errorf("jobs cancel of a finished job:\n%s", r)
	}

	// Canceling without --wait returns at once; a waiter sees the end.
	jobID = strings.TrimSpace(s.ok(t, "tasks", "run", id).stdout)
	waitRunning(t, s, jobID)
	if r := s.ok(t, "jobs", "cancel", jobID); !strings.Contains(r.stdout, "job "+jobID) {
		t.Errorf("jobs cancel:\n%s", r)
	}
	if r := s.cli(t, "jobs", "watch", jobID, "--json"); r.code != cli.ExitJobCanceled || decode[waitOutput](t, r.stdout).Job.Status != "canceled" {
		t.Errorf("jobs watch --json of a canceled job:\n%s", r)
	}
}

// waitRunning polls the job through the client until it runs.
func waitRunning(t *testing.T, s *service, jobID string) {
	t.Helper()
	var status any
	testclient.Eventually(t, 60*time.Second, 20*time.Millisecond, func() bool {
		status = decode[map[string]any](t, s.ok(t, "jobs", "get", jobID, "--json").stdout)["status"]
		return status == "running"
	}, func() string { return fmt.Sprintf("job %s is %v, want running", jobID, status) })
}

func testArtifacts(t *testing.T, s *service) {
	id := s.createTask(t, "--command", "echo stored")
	out := decode[waitOutput](t, s.ok(t, "tasks", "run", id, "--wait", "--json").stdout)
	artID := *out.Job.ArtifactID
	a := decode[map[string]any](t, s.ok(t, "artifacts", "get", artID, "--json").stdout)
	if a["id"] != artID || a["data"].(map[string]any)["stdout"] != "stored\n" {
		t.Errorf("artifacts get --json: %v", a)
	}
	if r := s.ok(t, "artifacts", "get", artID); !strings.Contains(r.stdout, `"stdout": "stored\n"`) {
		t.Errorf("artifacts get:\n%s", r)
	}
	tree := decode[map[string]any](t, s.ok(t, "artifacts", "tree", artID, "--json").stdout)
	if tree["level_label"] != "execution" || len(tree["children"].([]any)) != 0 {
		t.Errorf("artifacts tree --json: %v", tree)
	}
	if r := s.ok(t, "artifacts", "tree", artID); !strings.Contains(r.stdout, artID+"  execution  echo stored → exit 0") {
		t.Errorf("artifacts tree:\n%s", r)
	}
	list := decode[[]map[string]any](t, s.ok(t, "artifacts", "list", "--task", id, "--json").stdout)
	if len(list) != 1 || list[0]["id"] != artID {
		t.Errorf("artifacts list --task: %v", list)
	}
	if r := s.ok(t, "health"); !strings.HasPrefix(r.stdout, "healthy\n") {
		t.Errorf("health:\n%s", r)
	}
}

func testErrors(t *testing.T, s *service) {
	before := len(decode[[]any](t, s.ok(t, "tasks", "list", "--json").stdout))
	const unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"tasks", "run", unknown, "--wait"}, cli.ExitAPI, "error: Bad Request: Task " + unknown + " not found\n"},
		{[]string{"jobs", "get", unknown}, cli.ExitAPI, "error: Not Found: "},
		{[]string{"jobs", "watch", unknown}, cli.ExitAPI, "error: Not Found: "},
		{[]string{"tasks", "get", "nope"}, cli.ExitAPI, "error: Invalid ULID: "},
		{[]string{"jobs", "list", "--status", "done"}, cli.ExitAPI, "error: Validation Failed: status_filter"},
		{[]string{"tasks", "create", "--command", "x", "--type", "perl"}, cli.ExitAPI, "error: Validation Failed: task_type"},
		{[]string{"tasks", "create", "--command", "add", "--type", "go", "--parameters", "[1]"}, cli.ExitAPI, "error: Validation Failed: parameters"},
		{[]string{"--url", "http://127.0.0.1:1", "tasks", "list"}, cli.ExitAPI, "error: cannot reach chaptask at http://127.0.0.1:1: "},
		{[]string{}, cli.ExitUsage, "Usage: chaptask-cli"},
		{[]string{"frob"}, cli.ExitUsage, `error: unknown command "frob"`},
		{[]string{"tasks", "frob"}, cli.ExitUsage, `error: tasks: unknown "frob" subcommand`},
		{[]string{"tasks", "run"}, cli.ExitUsage, "error: tasks run takes one argument, got 0"},
		{[]string{"tasks", "get", "a", "b"}, cli.ExitUsage, "error: tasks get takes one argument, got 2"},
		{[]string{"tasks", "create"}, cli.ExitUsage, "error: tasks create needs --command"},
		{[]string{"tasks", "create", "--command", "add", "--parameters", "{nope"}, cli.ExitUsage, "error: --parameters is not valid JSON"},
		{[]string{"tasks", "create", "--command", "add", "--parameters", "-"}, cli.ExitUsage, "error: --parameters is not valid JSON"},
		{[]string{"tasks", "list", "--bogus"}, cli.ExitUsage, "error: flag provided but not defined: -bogus"},
		{[]string{"--url", "ftp://x", "tasks", "list"}, cli.ExitUsage, `error: service URL "ftp://x"`},
	} {
		r := s.cli(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) || r.stdout != "" {
			t.Errorf("chaptask-cli %s: want exit %d and %q in stderr, got\n%s", strings.Join(tc.args, " "), tc.code, tc.stderr, r)
		}
	}
	// None of them created anything.
	if after := len(decode[[]any](t, s.ok(t, "tasks", "list", "--json").stdout)); after != before {
		t.Errorf("failed commands changed the task count from %d to %d", before, after)
	}
	if r := s.cli(t, "tasks", "run", "-h"); r.code != 0 || !strings.Contains(r.stdout, "-wait") {
		t.Errorf("tasks run -h:\n%s", r)
	}
}

// TestClientLinksNoServer keeps the client binary free of Temporal and the
// database drivers: it only speaks HTTP.
func TestClientLinksNoServer(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "github.com/chaptask/chaptask/cli" && dep != "github.com/chaptask/chaptask/cmd/chaptask-cli" {
			t.Errorf("chaptask-cli depends on %s; it should need only the standard library and package cli", dep)
		}
	}
}
