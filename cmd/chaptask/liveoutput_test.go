package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/internal/testclient"
)

type sseEvent struct {
	name string
	id   int64
	data string
}

// readEvents reads a $stream until the server closes it.
func readEvents(t *testing.T, url string, header http.Header) []sseEvent {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("stream: status %d", res.StatusCode)
	}
	var events []sseEvent
	var ev sseEvent
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			events = append(events, ev)
			ev = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			ev.id, _ = strconv.ParseInt(strings.TrimPrefix(line, "id: "), 10, 64)
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		}
	}
	return events
}

type jobLog struct {
	NextOffset int64 `json:"next_offset"`
	Chunks     []struct {
		Offset int64
		Stream string
		Data   string
	}
	Complete bool
}

func (l jobLog) text() string {
	var b strings.Builder
	for _, c := range l.Chunks {
		b.WriteString(c.Data)
	}
	return b.String()
}

// TestLiveOutput: a running shell job's output is readable before it ends,
// through $logs and as output events on $stream, which resume by
// Last-Event-ID; a function's progress shows in the job record and stream.
func TestLiveOutput(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := newEnv(t, dialect)
			gate := t.TempDir()
			env["TMPDIR"] = gate
			s := startService(t, env)

			task := s.createTask(t, map[string]any{"command": `echo first; echo oops >&2; while [ ! -f "$TMPDIR/go" ]; do sleep 0.02; done; echo second; echo third`})
			jobID := s.execute(t, task)
			logsPath := "/api/v1/jobs/" + jobID + "/$logs"
			const before, after = "first\noops\n", "second\nthird\n"

			var log jobLog
			testclient.Eventually(t, 60*time.Second, 20*time.Millisecond, func() bool {
				s.do(t, "GET", logsPath, nil).decode(t, &log)
				// stdout and stderr are separate pipes: their relative order
				// is whatever the reads of the two happened to be.
				return len(log.text()) == len(before)
			}, func() string { return "no live output; log so far " + log.text() })
			if streams := byStream(log); streams["stdout"] != "first\n" || streams["stderr"] != "oops\n" {
				t.Fatalf("live log before the end: %+v", streams)
			}
			if log.Complete || s.job(t, jobID).Status != "running" {
				t.Fatalf("output was read only after the job ended (complete %v)", log.Complete)
			}

			streamed := make(chan []sseEvent, 1)
			go func() {
				streamed <- readEvents(t, s.base+"/api/v1/jobs/"+jobID+"/$stream?events=status,output", nil)
			}()
			if err := os.WriteFile(filepath.Join(gate, "go"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			s.waitStatus(t, jobID, "completed")

			s.do(t, "GET", logsPath, nil).decode(t, &log)
			full := log.text()
			if !strings.HasSuffix(full, "\nsecond\nthird\n") || len(full) != len(before)+len(after) || !log.Complete || log.NextOffset != int64(len(full)) {
				t.Fatalf("final log: %+v", log)
			}
			if streams := byStream(log); streams["stdout"] != "first\nsecond\nthird\n" || streams["stderr"] != "oops\n" {
				t.Errorf("streams: %+v", streams)
			}
			s.do(t, "GET", logsPath+"?offset=13", nil).decode(t, &log)
			if log.text() != "cond\nthird\n" {
				t.Errorf("?offset=13: %q", log.text())
			}
			text := s.do(t, "GET", logsPath+"?format=text&offset=11", nil)
			if string(text.body) != after || text.header.Get("X-Next-Offset") != "24" {
				t.Errorf("text format: %q, next %s", text.body, text.header.Get("X-Next-Offset"))
			}
			for _, bad := range []string{"?offset=-1", "?offset=x", "?format=xml"} {
				s.want(t, s.do(t, "GET", logsPath+bad, nil), 422)
			}
			s.want(t, s.do(t, "GET", "/api/v1/jobs/"+"01K72P5N5KCRM6MD3BRE4P0999"+"/$logs", nil), 404)

			events := <-streamed
			var output strings.Builder
			var lastID int64
			for _, ev := range events {
				if ev.id < lastID {
					t.Errorf("event ids go back: %d after %d", ev.id, lastID)
				}
				lastID = ev.id
				if ev.name == "output" {
					var c struct{ Data string }
					if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
						t.Fatal(err)
					}
					output.WriteString(c.Data)
				}
			}
			last := events[len(events)-1]
			if output.String() != full || last.name != "" || !strings.Contains(last.data, `"status":"completed"`) {
				t.Errorf("stream: output %q, last event %+v", output.String(), last)
			}

			resumed := readEvents(t, s.base+"/api/v1/jobs/"+jobID+"/$stream?events=output,status", http.Header{"Last-Event-Id": {"11"}})
			output.Reset()
			for _, ev := range resumed {
				if ev.name == "output" {
					var c struct{ Data string }
					_ = json.Unmarshal([]byte(ev.data), &c)
					output.WriteString(c.Data)
				}
			}
			if output.String() != after {
				t.Errorf("resumed at 11: %q", output.String())
			}

			plain := readEvents(t, s.base+"/api/v1/jobs/"+jobID+"/$stream", nil)
			for _, ev := range plain {
				if ev.name != "" {
					t.Errorf("a default stream (chapkit's) carries %q events", ev.name)
				}
			}

			slow := s.createTask(t, map[string]any{"command": "slow_computation", "task_type": "python", "parameters": map[string]any{"seconds": 3}})
			slowJob := s.execute(t, slow)
			progressEvents := make(chan []sseEvent, 1)
			go func() {
				progressEvents <- readEvents(t, s.base+"/api/v1/jobs/"+slowJob+"/$stream?events=progress,status", nil)
			}()
			var rec map[string]any
			testclient.Eventually(t, 60*time.Second, 50*time.Millisecond, func() bool {
				rec = s.do(t, "GET", "/api/v1/jobs/"+slowJob, nil).object(t)
				p, _ := rec["progress"].(map[string]any)
				return p != nil && strings.Contains(p["message"].(string), "of 3 seconds")
			}, func() string { return "no progress in the record: " + jsonString(rec) })
			if rec["status"] != "running" {
				t.Errorf("progress shown on a %v job", rec["status"])
			}
			sawProgress := false
			for _, ev := range <-progressEvents {
				sawProgress = sawProgress || (ev.name == "progress" && strings.Contains(ev.data, `"message":`))
			}
			if !sawProgress {
				t.Error("no progress event on the stream")
			}
		})
	}
}

// byStream joins the log's chunks per stream.
func byStream(l jobLog) map[string]string {
	m := map[string]string{}
	for _, c := range l.Chunks {
		m[c.Stream] += c.Data
	}
	return m
}

func jsonString(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}
