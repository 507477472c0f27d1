package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strconv"

	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/tasks"
)

// cancelRequest is a validated POST /jobs/$cancel body: either ids, or a
// live status with an optional task.
type cancelRequest struct {
	ids    []string
	status string
	taskID string
}

// cancelStatuses are the statuses a bulk cancel may select: a finished job
// has nothing left to cancel, so asking for one is a mistake worth saying.
var cancelStatuses = []string{jobs.StatusPending, jobs.StatusRunning}

// decodeCancelRequest validates a bulk cancel body and reports every bad
// field at once. Unknown fields are refused: a misspelt filter must not
// widen what gets canceled.
func decodeCancelRequest(body []byte) (cancelRequest, error) {
	members, err := decodeObject(body)
	if err != nil {
		return cancelRequest{}, err
	}
	var req cancelRequest
	var errs []fieldError
	bad := func(msg, typ string, loc ...string) {
		errs = append(errs, fieldError{Loc: append([]string{"body"}, loc...), Msg: msg, Type: typ})
	}
	names := make([]string, 0, len(members))
	for name := range members {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name != "ids" && name != "status_filter" && name != "task_id" {
			bad("unknown field", "value_error.extra", truncate(name, maxEcho))
		}
	}

	hasIDs, hasStatus := false, false
	if raw, ok := members["ids"]; ok && !isNull(raw) {
		hasIDs = true
		var ids []json.RawMessage
		switch {
		case json.Unmarshal(raw, &ids) != nil:
			bad("must be an array of job ids", "type_error.list", "ids")
		case len(ids) == 0:
			bad("must name at least one job", "value_error.list.min_items", "ids")
		case len(ids) > jobs.MaxBulk:
			bad(fmt.Sprintf("must name at most %d jobs", jobs.MaxBulk), "value_error.list.max_items", "ids")
		default:
			seen := make(map[string]bool, len(ids))
			for i, rawID := range ids {
				var s string
				if json.Unmarshal(rawID, &s) != nil {
					bad("must be a string", "type_error.str", "ids", strconv.Itoa(i))
					continue
				}
				id, err := parseJobID(s)
				if err != nil {
					bad("must be a job id", "value_error.ulid", "ids", strconv.Itoa(i))
					continue
				}
				if !seen[id] {
					seen[id] = true
					req.ids = append(req.ids, id)
				}
			}
		}
	}
	if raw, ok := members["status_filter"]; ok && !isNull(raw) {
		hasStatus = true
		switch err := json.Unmarshal(raw, &req.status); {
		case err != nil:
			bad("must be a string", "type_error.str", "status_filter")
		case slices.Contains(jobs.Statuses, req.status) && !slices.Contains(cancelStatuses, req.status):
			bad("must be pending or running: a "+req.status+" job has nothing left to cancel", "value_error.enum", "status_filter")
		case !slices.Contains(cancelStatuses, req.status):
			bad("must be pending or running", "value_error.enum", "status_filter")
		}
	}
	if raw, ok := members["task_id"]; ok && !isNull(raw) {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			bad("must be a string", "type_error.str", "task_id")
		} else if id, err := parseULID(s); err != nil {
			bad("must be a ULID", "value_error.ulid", "task_id")
		} else if !hasStatus {
			bad("needs status_filter", "value_error.missing", "task_id")
		} else {
			req.taskID = id
		}
	}
	switch {
	case hasIDs && hasStatus:
		bad("give either ids or status_filter, not both", "value_error.exclusive")
	case !hasIDs && !hasStatus:
		bad("give ids or status_filter", "value_error.missing")
	}
	if len(errs) > 0 {
		return cancelRequest{}, validationFailed(errs)
	}
	return req, nil
}

// cancelJSON is the answer of a bulk cancel: every id selected, in one of
// the lists, in the order given (ids) or listed (status_filter).
type cancelJSON struct {
	Canceled        []string          `json:"canceled"`
	AlreadyFinished []string          `json:"already_finished"`
	NotFound        []string          `json:"not_found"`
	Errors          []cancelErrorJSON `json:"errors"`
	// Truncated says that the filter selected more than the jobs handled
	// here; call again for the rest.
	Truncated bool `json:"truncated"`
}

type cancelErrorJSON struct {
	ID     string `json:"id"`
	Detail string `json:"detail"`
}

func handleJobCancelMany(js *jobs.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		req, err := decodeCancelRequest(body)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		ids, truncated := req.ids, false
		if req.status != "" {
			ids, truncated, err = js.LiveIDs(r.Context(), req.status, req.taskID)
			if err != nil {
				writeError(w, r, logger, err)
				return
			}
		}
		outcomes, err := js.CancelMany(r.Context(), ids)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		res := cancelJSON{Canceled: []string{}, AlreadyFinished: []string{}, NotFound: []string{}, Errors: []cancelErrorJSON{}, Truncated: truncated}
		for _, o := range outcomes {
			switch o.Outcome {
			case jobs.Canceled:
				res.Canceled = append(res.Canceled, o.ID)
			case jobs.AlreadyFinished:
				res.AlreadyFinished = append(res.AlreadyFinished, o.ID)
			case jobs.NotFound:
				res.NotFound = append(res.NotFound, o.ID)
			default:
				detail := "could not cancel the job"
				if errors.Is(o.Err, jobs.ErrUnavailable) {
					detail = "Temporal is unavailable, try again later"
				}
				logger.WarnContext(r.Context(), "bulk cancel", "job_id", o.ID, "error", o.Err)
				res.Errors = append(res.Errors, cancelErrorJSON{ID: o.ID, Detail: detail})
			}
		}
		encode(w, http.StatusOK, res)
	})
}

func handleJobRerun(ts *tasks.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathJobID(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		// The same optional overrides as $execute, applied over the
		// snapshot the job ran (its own overrides included).
		overrides, err := readRunOverrides(w, r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		jobID, err := ts.Rerun(r.Context(), id, overrides)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		writeSubmitted(w, jobID, false)
	})
}
