package activities

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCapture(t *testing.T) {
	cases := []struct {
		name      string
		max       int64
		writes    []string
		want      string
		truncated bool
		total     int64
	}{
		{"under the limit", 16, []string{"hello ", "world"}, "hello world", false, 11},
		{"exactly the limit", 8, []string{"abcd", "efgh"}, "abcdefgh", false, 8},
		{"head and tail kept", 8, []string{"abcd", "efgh", "ijkl"}, "abcd\n[… 4 bytes omitted …]\nijkl", true, 12},
		{"many small writes", 4, []string{"a", "b", "c", "d", "e", "f", "g"}, "ab\n[… 3 bytes omitted …]\nfg", true, 7},
		{"invalid UTF-8 replaced", 64, []string{"ok\xff\xfe!"}, "ok\uFFFD!", false, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCapture(tc.max)
			for _, w := range tc.writes {
				if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			text, truncated, total := c.result()
			if text != tc.want || truncated != tc.truncated || total != tc.total {
				t.Errorf("got %q %v %d, want %q %v %d", text, truncated, total, tc.want, tc.truncated, tc.total)
			}
		})
	}
}

func TestCaptureBoundedMemory(t *testing.T) {
	c := newCapture(1 << 10)
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	for range 1000 { // 32 MB through a 1 KiB capture
		c.Write(chunk)
	}
	if cap(c.tail) > 4*(1<<10+len(chunk)) || len(c.head) != 512 {
		t.Errorf("capture holds head %d, tail cap %d", len(c.head), cap(c.tail))
	}
	_, truncated, total := c.result()
	if !truncated || total != 32_768_000 {
		t.Errorf("truncated %v total %d", truncated, total)
	}
}

func runTestShell(t *testing.T, ctx context.Context, command string) (shellRun, error) {
	t.Helper()
	return runShell(ctx, command, ShellEnv(os.Getenv), nil, 1<<20, 500*time.Millisecond, time.Hour, func() {}, nil, jobProcs{})
}

func TestRunShellOutputAndExitCodes(t *testing.T) {
	cases := []struct {
		command        string
		stdout, stderr string
		exit           int
	}{
		{`echo out; echo err >&2`, "out\n", "err\n", 0},
		{`exit 7`, "", "", 7},
		{`kill -TERM $$`, "", "", -15},
		{`echo "$DATABASE_URL$CHAPTASK_API_KEYS"`, "\n", "", 0},
		{`cat`, "", "", 0}, // stdin is empty, never the worker's
	}
	t.Setenv("DATABASE_URL", "postgres://secret")
	t.Setenv("CHAPTASK_API_KEYS", "secret")
	for _, tc := range cases {
		t.Run(tc.command, func(t *testing.T) {
			run, err := runTestShell(t, context.Background(), tc.command)
			if err != nil {
				t.Fatal(err)
			}
			stdout, _, _ := run.stdout.result()
			stderr, _, _ := run.stderr.result()
			if stdout != tc.stdout || stderr != tc.stderr || run.exitCode != tc.exit {
				t.Errorf("got %q %q %d, want %q %q %d", stdout, stderr, run.exitCode, tc.stdout, tc.stderr, tc.exit)
			}
		})
	}
}

func alive(pid int) bool {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// waitDead fails unless pid dies within a second: SIGKILL is delivered
// asynchronously.
func waitDead(t *testing.T, pid int) {
	t.Helper()
	deadline := time.NewTimer(time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for alive(pid) {
		select {
		case <-deadline.C:
			t.Fatalf("process %d outlived its job", pid)
		case <-tick.C:
		}
	}
}

func TestRunShellCancelKillsProcessGroup(t *testing.T) {
	pidPath := t.TempDir() + "/pids"
	ctx, cancel := context.WithCancel(context.Background())
	// The child ignores SIGTERM, so only the SIGKILL after the grace ends it.
	command := `trap "" TERM; sleep 300 & echo $! > ` + pidPath + `; (trap "" TERM; sleep 300) & wait`
	done := make(chan error, 1)
	go func() {
		_, err := runTestShell(t, ctx, command)
		done <- err
	}()
	var pid int
	deadline := time.Now().Add(10 * time.Second)
	for pid == 0 && time.Now().Before(deadline) {
		raw, _ := os.ReadFile(pidPath)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(raw)))
		if pid == 0 {
			<-time.After(10 * time.Millisecond)
		}
	}
	if pid == 0 {
		t.Fatal("command never started")
	}
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("runShell did not return after cancel")
	}
	waitDead(t, pid)
}

func TestRunShellKillsLeftovers(t *testing.T) {
	pidPath := t.TempDir() + "/pid"
	run, err := runTestShell(t, context.Background(), `sleep 300 >/dev/null 2>&1 & echo $! > `+pidPath)
	if err != nil || run.exitCode != 0 {
		t.Fatalf("run: %v, exit %d", err, run.exitCode)
	}
	raw, _ := os.ReadFile(pidPath)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	if pid == 0 {
		t.Fatal("no pid written")
	}
	waitDead(t, pid)
}

// PostgreSQL's jsonb cannot hold NUL: the artifact shows it as U+FFFD, as
// the live log does, and an escaped backslash before "u0000" stays text.
func TestWithoutNUL(t *testing.T) {
	for in, want := range map[string]string{
		`{"stdout":"a\u0000b"}`:     `{"stdout":"a\ufffdb"}`,
		`{"stdout":"a\\u0000b"}`:    `{"stdout":"a\\u0000b"}`,
		`{"stdout":"a\\\u0000b"}`:   `{"stdout":"a\\\ufffdb"}`,
		`{"stdout":"\u0000\u0000"}`: `{"stdout":"\ufffd\ufffd"}`,
		`{"stdout":"plain"}`:        `{"stdout":"plain"}`,
	} {
		if got := string(withoutNUL([]byte(in))); got != want {
			t.Errorf("withoutNUL(%s) = %s, want %s", in, got, want)
		}
	}
}
