package api

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/jobs"
)

// maxLogRead bounds one $logs answer; clients page on with next_offset.
const maxLogRead = 1 << 20

// logPollEvery is how often a stream following output looks for more.
const logPollEvery = 200 * time.Millisecond

type logChunkJSON struct {
	Offset int64  `json:"offset"`
	Stream string `json:"stream"`
	Data   string `json:"data"`
}

type jobLogJSON struct {
	JobID      string         `json:"job_id"`
	Offset     int64          `json:"offset"`
	NextOffset int64          `json:"next_offset"`
	Chunks     []logChunkJSON `json:"chunks"`
	// Complete is true once the job is terminal and nothing follows
	// next_offset: the log will never grow again.
	Complete bool `json:"complete"`
}

// readLog returns the job's log from offset on, chunks trimmed to start at
// offset, and the offset after them.
func readLog(r *http.Request, bdb bun.IDB, jobID string, offset int64) ([]logChunkJSON, int64, error) {
	chunks, err := db.JobLog(r.Context(), bdb, jobID, offset, maxLogRead)
	if err != nil {
		return nil, offset, err
	}
	out := make([]logChunkJSON, 0, len(chunks))
	next := offset
	for _, c := range chunks {
		if c.End() <= offset {
			continue
		}
		data := c.Data
		if c.Offset < offset {
			data = data[offset-c.Offset:]
		}
		out = append(out, logChunkJSON{Offset: max(c.Offset, offset), Stream: c.Stream, Data: data})
		next = c.End()
	}
	return out, next, nil
}

// handleJobLogs answers the job's live output from ?offset= on, as JSON
// chunks or, with ?format=text, as the plain text (next offset in the
// X-Next-Offset header).
func handleJobLogs(bdb *bun.DB, js *jobs.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathJobID(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		q := r.URL.Query()
		var errs []fieldError
		offset := int64(0)
		if raw := q.Get("offset"); q.Has("offset") {
			offset, err = strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
			if err != nil || offset < 0 {
				errs = append(errs, fieldError{Loc: []string{"query", "offset"}, Msg: "must be a non-negative integer", Type: "type_error.integer"})
			}
		}
		format := q.Get("format")
		if format != "" && format != "json" && format != "text" {
			errs = append(errs, fieldError{Loc: []string{"query", "format"}, Msg: `must be "json" or "text"`, Type: "value_error.enum"})
		}
		if len(errs) > 0 {
			writeError(w, r, logger, validationFailed(errs))
			return
		}
		// Read the status first: a job terminal before the read has all of
		// its output stored already.
		job, err := js.Get(r.Context(), id)
		if err != nil {
			writeError(w, r, logger, about(err, "Job %s not found", id))
			return
		}
		chunks, next, err := readLog(r, bdb, id, offset)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		complete := false
		if job.Terminal() {
			end, err := db.JobLogEnd(r.Context(), bdb, id)
			if err != nil {
				writeError(w, r, logger, err)
				return
			}
			complete = next >= end
		}
		if format == "text" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("X-Next-Offset", strconv.FormatInt(next, 10))
			w.Header().Set("X-Log-Complete", strconv.FormatBool(complete))
			w.WriteHeader(http.StatusOK)
			for _, c := range chunks {
				_, _ = io.WriteString(w, c.Data) // a failed write means the client left
			}
			return
		}
		encode(w, http.StatusOK, jobLogJSON{JobID: id, Offset: offset, NextOffset: next, Chunks: chunks, Complete: complete})
	})
}

// streamEvents is what a $stream client asked for with ?events=.
type streamEvents struct {
	status, output, progress bool
	// children adds a "child" event per status change of a child job.
	children bool
	// chosen is true when the client named its events; only then do
	// events carry ids, so the default stream is chapkit's byte for byte.
	chosen bool
}

// parseStreamEvents reads ?events=status,output,progress,children. The default is
// status events alone: chapkit clients read every data line as a job.
func parseStreamEvents(raw string) (streamEvents, []fieldError) {
	if strings.TrimSpace(raw) == "" {
		return streamEvents{status: true}, nil
	}
	ev := streamEvents{chosen: true}
	for _, name := range strings.Split(raw, ",") {
		switch strings.TrimSpace(name) {
		case "status":
			ev.status = true
		case "output":
			ev.output = true
		case "progress":
			ev.progress = true
		case "children":
			ev.children = true
		default:
			return ev, []fieldError{{Loc: []string{"query", "events"}, Msg: `must list "status", "output", "progress" or "children"`, Type: "value_error.enum"}}
		}
	}
	return ev, nil
}

// sseWriter writes Server-Sent Events; emit may be called from several
// goroutines.
type sseWriter struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	flusher http.Flusher
	ids     bool
	started bool
}

func (s *sseWriter) event(name string, id int64, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		h := s.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("Connection", "keep-alive")
		h.Set("X-Accel-Buffering", "no") // no proxy buffering
		s.w.WriteHeader(http.StatusOK)
		s.started = true
	}
	var b strings.Builder
	if name != "" {
		fmt.Fprintf(&b, "event: %s\n", name)
	}
	if s.ids {
		fmt.Fprintf(&b, "id: %d\n", id)
	}
	fmt.Fprintf(&b, "data: %s\n\n", raw)
	if _, err := io.WriteString(s.w, b.String()); err != nil {
		return err
	}
	if s.flusher != nil {
		s.flusher.Flush()
	}
	return nil
}

func (s *sseWriter) hasStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}
