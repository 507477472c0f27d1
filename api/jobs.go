package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/tasks"
	"github.com/chaptask/chaptask/workflows"
)

type executeJSON struct {
	JobID   string `json:"job_id"`
	Message string `json:"message"`
}

// idempotencyKeyHeader names the header that makes $execute idempotent.
const idempotencyKeyHeader = tasks.IdempotencyKeyHeader

func handleTaskExecute(ts *tasks.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathULID(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		key, err := idempotencyKey(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		overrides, err := readRunOverrides(w, r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		jobID, existed, err := ts.Execute(r.Context(), id, key, overrides)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		writeSubmitted(w, jobID, existed)
	})
}

// readRunOverrides reads and decodes the optional overrides body of
// $execute and $rerun.
func readRunOverrides(w http.ResponseWriter, r *http.Request) (*workflows.RunOverrides, error) {
	body, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	return decodeRunOverrides(body)
}

// decodeRunOverrides reads the optional body of $execute and $rerun: {"parameters": {…},
// "timeout_seconds": n}, either member optional. No body (or an empty
// object) runs the task as it is.
func decodeRunOverrides(body []byte) (*workflows.RunOverrides, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	members, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	var o workflows.RunOverrides
	var errs []fieldError
	for name, raw := range members {
		switch name {
		case "parameters":
			if isNull(raw) {
				continue
			}
			if msg := checkParameters(raw); msg != "" {
				errs = append(errs, fieldError{Loc: []string{"body", name}, Msg: msg, Type: "type_error.dict"})
			} else {
				o.Parameters = json.RawMessage(compactJSON(raw))
			}
		case "timeout_seconds":
			if isNull(raw) {
				continue
			}
			n, msg := decodeInt(raw, 1, workflows.MaxTimeoutSeconds)
			if msg != "" {
				errs = append(errs, fieldError{Loc: []string{"body", name}, Msg: msg, Type: "value_error.number"})
			} else {
				o.TimeoutSeconds = &n
			}
		default:
			errs = append(errs, fieldError{Loc: []string{"body", name}, Msg: `unknown field: the body takes "parameters" and "timeout_seconds"`, Type: "value_error.extra"})
		}
	}
	if len(errs) > 0 {
		sortFieldErrors(errs)
		return nil, validationFailed(errs)
	}
	if o.Parameters == nil && o.TimeoutSeconds == nil {
		return nil, nil
	}
	return &o, nil
}

// idempotencyKey returns the request's Idempotency-Key, "" when it has none.
func idempotencyKey(r *http.Request) (string, error) {
	values := r.Header.Values(idempotencyKeyHeader)
	bad := func(msg string) error {
		return validationFailed([]fieldError{{Loc: []string{"header", idempotencyKeyHeader}, Msg: msg, Type: "value_error.idempotency_key"}})
	}
	switch {
	case len(values) == 0:
		return "", nil
	case len(values) > 1:
		return "", bad("must be given once")
	case !jobs.ValidIdempotencyKey(values[0]):
		return "", bad(fmt.Sprintf("must be 1 to %d printable ASCII characters", jobs.MaxIdempotencyKeyLen))
	}
	return values[0], nil
}

// writeSubmitted answers a submit with the job's id. A job that already
// existed (a repeated keyed submit) gets the same body, marked by the
// Idempotent-Replayed header.
func writeSubmitted(w http.ResponseWriter, jobID string, existed bool) {
	w.Header().Set("Location", "/api/v1/jobs/"+jobID)
	if existed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	encode(w, http.StatusAccepted, executeJSON{
		JobID:   jobID,
		Message: "Task submitted for execution. Job ID: " + jobID,
	})
}

func handleJobList(js *jobs.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		page, errs := parsePage(q)
		status := q.Get("status_filter")
		if status != "" && !slices.Contains(jobs.Statuses, status) {
			errs = append(errs, queryError("status_filter", "must be one of "+strings.Join(jobs.Statuses, ", "), "value_error.enum"))
		}
		taskID, idErrs := parseULIDQuery(q, "task_id")
		errs = append(errs, idErrs...)
		parentJobID, parentErrs := parseJobIDQuery(q, "parent_job_id")
		errs = append(errs, parentErrs...)
		if len(errs) > 0 {
			writeError(w, r, logger, validationFailed(errs))
			return
		}
		filter := jobs.Filter{Status: status, TaskID: taskID, ParentJobID: parentJobID}
		if page.given {
			filter.Page, filter.Size = page.page, page.size
		}
		list, total, err := js.List(r.Context(), filter)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		if list == nil {
			list = []jobs.Job{}
		}
		if !page.given {
			encode(w, http.StatusOK, list)
			return
		}
		encode(w, http.StatusOK, newPage(page, list, total))
	})
}

// maxWait bounds ?wait= on GET /jobs/{id}.
const maxWait = 60 * time.Second

func handleJobGet(js *jobs.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathJobID(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		wait, errs := parseWait(r.URL.Query())
		if len(errs) > 0 {
			writeError(w, r, logger, validationFailed(errs))
			return
		}
		var job *jobs.Job
		if wait > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), wait)
			job, err = js.Wait(ctx, id)
			cancel()
		} else {
			job, err = js.Get(r.Context(), id)
		}
		if err != nil {
			writeError(w, r, logger, about(err, "Job %s not found", id))
			return
		}
		encode(w, http.StatusOK, job)
	})
}

func handleJobDelete(js *jobs.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathJobID(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		if err := js.Delete(r.Context(), id); err != nil {
			writeError(w, r, logger, about(err, "Job %s not found", id))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleJobStream sends the job as Server-Sent Events on every change and
// closes after the terminal status. ?events= adds "output" events (the live
// log, as $logs chunks), "progress" events and "child" events (a child
// job's record when it appears or changes status); every event's id is the log
// offset reached, so a client reconnecting with Last-Event-ID misses no
// output and sees none twice.
func handleJobStream(bdb *bun.DB, js *jobs.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathJobID(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		events, errs := parseStreamEvents(r.URL.Query().Get("events"))
		if len(errs) > 0 {
			writeError(w, r, logger, validationFailed(errs))
			return
		}
		// A resume point that is not ours is ignored rather than refused:
		// browsers send back whatever id they last saw.
		resume, err := strconv.ParseInt(strings.TrimSpace(r.Header.Get("Last-Event-ID")), 10, 64)
		if err != nil || resume < 0 {
			resume = 0
		}

		flusher, _ := w.(http.Flusher)
		sse := &sseWriter{w: w, flusher: flusher, ids: events.chosen}
		var outMu sync.Mutex
		offset := resume
		sendOutput := func() error {
			outMu.Lock()
			defer outMu.Unlock()
			chunks, next, err := readLog(r, bdb, id, offset)
			if err != nil {
				return err
			}
			for _, c := range chunks {
				if err := sse.event("output", c.Offset+int64(len(c.Data)), c); err != nil {
					return err
				}
			}
			offset = next
			return nil
		}
		currentOffset := func() int64 {
			outMu.Lock()
			defer outMu.Unlock()
			return offset
		}

		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stopPoller := func() {}
		if events.output {
			stopPoller = pollEvery(ctx, logPollEvery, func(context.Context) error { return sendOutput() }, func(err error) {
				logger.WarnContext(ctx, "job stream: read output", "job_id", id, "error", err)
				cancel()
			})
		}
		defer stopPoller()
		var children *childEvents
		if events.children {
			children = startChildEvents(ctx, js, id, sse, currentOffset, func(err error) {
				logger.WarnContext(ctx, "job stream: list children", "job_id", id, "error", err)
				cancel()
			})
			defer children.stop()
		}

		var lastProgress time.Time
		err = js.Watch(ctx, id, func(job *jobs.Job) error {
			if job.Terminal() && events.output {
				// The job's output is all stored once it is terminal: send
				// the rest before the terminal status.
				stopPoller() // safe to call twice
				if err := sendOutput(); err != nil {
					return err
				}
			}
			if job.Terminal() && children != nil {
				if err := children.finish(ctx); err != nil {
					return err
				}
			}
			if events.progress && job.Progress != nil && !job.Progress.UpdatedAt.Equal(lastProgress) {
				lastProgress = job.Progress.UpdatedAt
				if err := sse.event("progress", currentOffset(), job.Progress); err != nil {
					return err
				}
			}
			if events.status {
				return sse.event("", currentOffset(), job)
			}
			return nil
		})
		if err != nil && !sse.hasStarted() {
			writeError(w, r, logger, about(err, "Job %s not found", id))
			return
		}
		if err != nil && r.Context().Err() == nil {
			logger.WarnContext(r.Context(), "job stream ended early", "job_id", id, "error", err)
		}
	})
}

// parseWait reads ?wait=, a duration ("30s", "1m") or a number of seconds,
// up to maxWait.
func parseWait(q url.Values) (time.Duration, []fieldError) {
	if !q.Has("wait") {
		return 0, nil
	}
	raw := strings.TrimSpace(q.Get("wait"))
	d, err := time.ParseDuration(raw)
	if err != nil {
		secs, numErr := strconv.ParseFloat(raw, 64)
		if numErr != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return 0, []fieldError{queryError("wait", `must be a duration such as "30s" or a number of seconds`, "type_error.duration")}
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < 0 || d > maxWait {
		return 0, []fieldError{queryError("wait", "must be between 0 and 60s", "value_error.duration")}
	}
	return d, nil
}
