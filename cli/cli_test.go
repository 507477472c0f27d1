package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// The client is exercised end to end against the real service in
// cmd/chaptask-cli; these tests cover its pure logic.

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		positional []string
		wait       bool
		size       int
	}{
		{nil, nil, false, 0},
		{[]string{"ID"}, []string{"ID"}, false, 0},
		{[]string{"ID", "--wait"}, []string{"ID"}, true, 0},
		{[]string{"--wait", "ID"}, []string{"ID"}, true, 0},
		{[]string{"a", "--size", "3", "b", "-wait"}, []string{"a", "b"}, true, 3},
		{[]string{"a", "--", "--wait", "-x"}, []string{"a", "--wait", "-x"}, false, 0},
		{[]string{"--", "-"}, []string{"-"}, false, 0},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		wait := fs.Bool("wait", false, "")
		size := fs.Int("size", 0, "")
		got, err := parseInterspersed(fs, tc.args)
		if err != nil || !slices.Equal(got, tc.positional) || *wait != tc.wait || *size != tc.size {
			t.Errorf("%q: positional %q wait %v size %d err %v", tc.args, got, *wait, *size, err)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := parseInterspersed(fs, []string{"ID", "--nope"}); err == nil {
		t.Error("an unknown flag after an argument was accepted")
	}
}

func TestReadEvents(t *testing.T) {
	stream := ": a comment\n" +
		"data: {\"a\":1}\n\n" +
		"event: job\nid: 7\ndata: {\"b\":\n" + "data: 2}\n\n" +
		"\n\n" +
		"data:{\"c\":3}\n\n" +
		"data: {\"cut\":" // no blank line: never dispatched
	var got []string
	err := readEvents(strings.NewReader(stream), func(d string) error {
		got = append(got, d)
		return nil
	})
	want := []string{`{"a":1}`, "{\"b\":\n2}", `{"c":3}`}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("events %q, err %v; want %q", got, err, want)
	}
}

func TestExecutionExit(t *testing.T) {
	code := func(n int) *int { return &n }
	for _, tc := range []struct {
		x    execution
		want int
	}{
		{execution{ExitCode: code(0)}, 0},
		{execution{ExitCode: code(3)}, 3},
		{execution{ExitCode: code(300)}, 255},
		{execution{ExitCode: code(-9)}, 137},
		{execution{Result: json.RawMessage(`1`)}, 0},
		{execution{Error: &functionError{Type: "ValueError"}}, ExitError},
	} {
		got := 0
		if err := executionExit(&tc.x); err != nil {
			got = int(err.(exitCode))
		}
		if got != tc.want {
			t.Errorf("%+v: exit %d, want %d", tc.x, got, tc.want)
		}
	}
}

func TestPrintResult(t *testing.T) {
	for raw, want := range map[string]string{
		`"Hello, Ada!"`: "Hello, Ada!\n",
		`null`:          "",
		``:              "",
		`42`:            "42\n",
		`{"a":[1]}`:     "{\n  \"a\": [\n    1\n  ]\n}\n",
	} {
		var buf bytes.Buffer
		if err := printResult(&buf, json.RawMessage(raw)); err != nil || buf.String() != want {
			t.Errorf("result %s printed %q (err %v), want %q", raw, buf.String(), err, want)
		}
	}
}

func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	e := &env{stderr: &buf}
	p := e.newProgress("J1")
	half := 50.0
	for _, j := range []job{
		{Status: statusPending},
		{Status: statusPending},
		{Status: statusRunning},
		{Status: statusRunning, Progress: &jobProgress{Percent: &half, Message: "half way"}},
		{Status: statusCompleted},
	} {
		p.update(&j)
	}
	p.finish(&job{Status: statusCompleted})
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 4 || lines[0] != "job J1: pending" || lines[1] != "job J1: running" ||
		lines[2] != "job J1: running 50% half way" || !strings.HasPrefix(lines[3], "job J1: completed after ") {
		t.Errorf("progress lines:\n%s", buf.String())
	}

	for _, e := range []*env{{stderr: &buf, quiet: true}, {stderr: &buf, json: true}} {
		if e.newProgress("J1") != nil {
			t.Errorf("progress shown with quiet=%v json=%v and no terminal", e.quiet, e.json)
		}
	}
}

func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := (&env{stderr: &buf, tty: true}).newProgress("J1")
	p.update(&job{Status: statusRunning})
	p.finish(&job{Status: statusCompleted})
	out := buf.String()
	// Redrawn in place, then cleared, leaving one line with the outcome.
	if !strings.Contains(out, "\r\x1b[K| job J1 running ") || !strings.Contains(out, "\r\x1b[Kjob J1 completed after ") {
		t.Errorf("terminal output %q", out)
	}
}

// TestAPIKeyAndProblem checks the request side of the contract: the key
// travels as X-API-Key and a problem document becomes "error: title:
// detail" with ExitAPI. A stand-in server is enough to see the header.
func TestAPIKeyAndProblem(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-API-Key") == "s3cret" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "[]")
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"type":"urn:chapkit:error:unauthorized","title":"Unauthorized","status":401,"detail":"missing API key"}`)
	}))
	defer srv.Close()
	env := map[string]string{"CHAPTASK_URL": srv.URL}
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), append([]string{"chaptask-cli"}, args...), func(k string) string { return env[k] }, nil, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	if code, _, stderr := run("tasks", "list"); code != ExitAPI || stderr != "error: Unauthorized: missing API key\n" {
		t.Errorf("without a key: exit %d, stderr %q", code, stderr)
	}
	if code, stdout, _ := run("tasks", "list", "--api-key", "s3cret", "--json"); code != 0 || stdout != "[]\n" {
		t.Errorf("with --api-key: exit %d, stdout %q", code, stdout)
	}
	env["CHAPTASK_API_KEY"] = "s3cret"
	if code, _, stderr := run("tasks", "list"); code != 0 {
		t.Errorf("with CHAPTASK_API_KEY: exit %d, stderr %q", code, stderr)
	}
}

// TestValidationProblemDetail: a 422's detail is FastAPI's list of fields
// (chapkit's shape); the client names each field with its message.
func TestValidationProblemDetail(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, `{"type":"urn:chapkit:error:validation-failed","title":"Validation Failed","status":422,`+
			`"detail":[{"loc":["body","command"],"msg":"field required","type":"value_error.missing"},`+
			`{"loc":["body","retry_policy","max_attempts"],"msg":"must be between 1 and 100","type":"value_error.number"}]}`)
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"chaptask-cli", "tasks", "list"}, func(k string) string {
		return map[string]string{"CHAPTASK_URL": srv.URL}[k]
	}, nil, &stdout, &stderr)
	want := "error: Validation Failed: command: field required; retry_policy.max_attempts: must be between 1 and 100\n"
	if code != ExitAPI || stderr.String() != want {
		t.Errorf("exit %d, stderr %q, want %q", code, stderr.String(), want)
	}
}

// TestProgressElapsedIsTheJobs: a job watched after it ended reports how
// long the job took (submitted to finished), not how long the watch waited.
func TestProgressElapsedIsTheJobs(t *testing.T) {
	submitted := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	finished := submitted.Add(533 * time.Millisecond)
	ended := job{Status: statusCanceled, SubmittedAt: submitted, FinishedAt: &finished}
	for _, tty := range []bool{false, true} {
		var buf bytes.Buffer
		p := (&env{stderr: &buf, tty: tty}).newProgress("J1")
		p.update(&ended)
		p.finish(&ended)
		want := "job J1: canceled after 533ms\n"
		if tty {
			want = "job J1 canceled after 533ms\n"
		}
		if !strings.HasSuffix(buf.String(), want) {
			t.Errorf("tty=%v: %q, want it to end with %q", tty, buf.String(), want)
		}
	}
}
