package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/jobs"
)

type executeJSON struct {
	JobID   string `json:"job_id"`
	Message string `json:"message"`
}

// idempotencyKeyHeader names the header that makes $execute idempotent.
const idempotencyKeyHeader = "Idempotency-Key"

func handleTaskExecute(bdb *bun.DB, js *jobs.Service, shellDisabled bool, logger *slog.Logger) http.Handler {
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
		if _, err := readBody(w, r); err != nil { // reserved for per-run overrides
			writeError(w, r, logger, err)
			return
		}
		task, err := db.GetTask(r.Context(), bdb, id)
		switch {
		case errors.Is(err, db.ErrNotFound):
			err = badRequest("Task %s not found", id)
		case err != nil:
			err = dbError(err)
		case !task.Enabled:
			err = badRequest("Cannot execute disabled task %s", id)
		case shellDisabled && task.TaskType == taskTypeShell:
			err = badRequest("Cannot execute shell task %s: shell tasks are disabled in this deployment", id)
		}
		if err != nil {
			// A repeated keyed submit answers with its job while the job
			// exists, even if the task can no longer be run.
			if key != "" {
				if jobID, ok := js.KeyedJobExists(r.Context(), id, key); ok {
					writeSubmitted(w, jobID, true)
					return
				}
			}
			writeError(w, r, logger, err)
			return
		}
		var jobID string
		existed := false
		if key != "" {
			jobID, existed, err = js.SubmitKeyed(r.Context(), task, key)
		} else {
			jobID, err = js.Submit(r.Context(), task)
		}
		if err != nil {
			writeError(w, r, logger, jobsError(err, ""))
			return
		}
		writeSubmitted(w, jobID, existed)
	})
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
		if len(errs) > 0 {
			writeError(w, r, logger, validationFailed(errs))
			return
		}
		filter := jobs.Filter{Status: status, TaskID: taskID}
		if page.given {
			filter.Page, filter.Size = page.page, page.size
		}
		list, total, err := js.List(r.Context(), filter)
		if err != nil {
			writeError(w, r, logger, jobsError(err, ""))
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
		id, err := pathULID(r)
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
			writeError(w, r, logger, jobsError(err, id))
			return
		}
		encode(w, http.StatusOK, job)
	})
}

func handleJobDelete(js *jobs.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathULID(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		if err := js.Delete(r.Context(), id); err != nil {
			writeError(w, r, logger, jobsError(err, id))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleJobStream sends the job as Server-Sent Events on every change and
// closes after the terminal status.
func handleJobStream(js *jobs.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathULID(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		flusher, _ := w.(http.Flusher)
		started := false
		err = js.Watch(r.Context(), id, func(job *jobs.Job) error {
			if !started {
				h := w.Header()
				h.Set("Content-Type", "text/event-stream")
				h.Set("Cache-Control", "no-cache")
				h.Set("Connection", "keep-alive")
				h.Set("X-Accel-Buffering", "no") // no proxy buffering
				w.WriteHeader(http.StatusOK)
				started = true
			}
			raw, err := json.Marshal(job)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(w, "data: %s\n\n", raw); err != nil {
				return err
			}
			if flusher != nil {
				flusher.Flush()
			}
			return nil
		})
		if err != nil && !started {
			writeError(w, r, logger, jobsError(err, id))
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

// jobsError maps job service errors to problems.
func jobsError(err error, id string) error {
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		return notFound("Job %s not found", id)
	case errors.Is(err, jobs.ErrUnavailable):
		return unavailable("Temporal is unavailable, try again later")
	}
	return err
}
