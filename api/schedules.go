package api

import (
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gorilla/mux"
	"github.com/oklog/ulid/v2"

	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/tasks"
)

// Bounds of a schedule spec.
const (
	maxCronLen      = 128
	maxIntervalSecs = 366 * 24 * 60 * 60
)

// maxRunAt is the last instant a one-shot schedule may name: Temporal's
// calendars stop at the year 2100.
var maxRunAt = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// scheduleFields are the members a schedule body may carry.
var (
	specFields          = []string{"cron", "interval_seconds", "run_at"}
	scheduleCreateField = append(slices.Clone(specFields), "overlap", "paused")
	schedulePatchFields = append(slices.Clone(scheduleCreateField), "trigger")
)

// scheduleBody is a validated create or patch request.
type scheduleBody struct {
	spec    *jobs.ScheduleSpec
	overlap *string
	paused  *bool
	trigger bool
}

// decodeScheduleBody validates a schedule body, reporting every bad field.
// A create needs exactly one spec field; a patch at most one.
func decodeScheduleBody(body []byte, patch bool, now time.Time) (scheduleBody, error) {
	members, err := decodeObject(body)
	if err != nil {
		return scheduleBody{}, err
	}
	var out scheduleBody
	var errs []fieldError
	bad := func(field, msg, typ string) {
		errs = append(errs, fieldError{Loc: []string{"body", field}, Msg: msg, Type: typ})
	}
	allowed := scheduleCreateField
	if patch {
		allowed = schedulePatchFields
	}
	names := make([]string, 0, len(members))
	for name := range members {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(allowed, name) {
			bad(truncate(name, maxEcho), "extra fields not permitted", "value_error.extra")
		}
	}

	var given []string
	for _, f := range specFields {
		if raw, ok := members[f]; ok && !isNull(raw) {
			given = append(given, f)
		}
	}
	switch {
	case len(given) == 0 && !patch:
		bad("cron", "exactly one of cron, interval_seconds or run_at is required", "value_error.missing")
	case len(given) > 1:
		for _, f := range given[1:] {
			bad(f, "only one of cron, interval_seconds or run_at may be given", "value_error.conflict")
		}
	case len(given) == 1:
		spec, msg, typ := decodeSpec(given[0], members[given[0]], now)
		if msg != "" {
			bad(given[0], msg, typ)
		} else {
			out.spec = &spec
		}
	}

	if raw, ok := members["overlap"]; ok && !isNull(raw) {
		var o string
		if err := json.Unmarshal(raw, &o); err != nil {
			bad("overlap", "must be a string", "type_error.str")
		} else if !slices.Contains(jobs.OverlapPolicies, o) {
			bad("overlap", "must be one of "+strings.Join(jobs.OverlapPolicies, ", "), "value_error.enum")
		} else {
			out.overlap = &o
		}
	}
	if raw, ok := members["paused"]; ok && !isNull(raw) {
		var p bool
		if err := json.Unmarshal(raw, &p); err != nil {
			bad("paused", "must be a boolean", "type_error.bool")
		} else {
			out.paused = &p
		}
	}
	if raw, ok := members["trigger"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &out.trigger); err != nil {
			bad("trigger", "must be a boolean", "type_error.bool")
		}
	}
	if len(errs) > 0 {
		return scheduleBody{}, validationFailed(errs)
	}
	return out, nil
}

// decodeSpec validates one spec field; msg is empty when it is valid.
func decodeSpec(field string, raw json.RawMessage, now time.Time) (spec jobs.ScheduleSpec, msg, typ string) {
	switch field {
	case "cron":
		if err := json.Unmarshal(raw, &spec.Cron); err != nil {
			return spec, "must be a string", "type_error.str"
		}
		spec.Cron = strings.TrimSpace(spec.Cron)
		switch {
		case spec.Cron == "":
			return spec, "must not be empty", "value_error.empty"
		case len(spec.Cron) > maxCronLen:
			return spec, "must be at most 128 characters", "value_error.too_long"
		case strings.ContainsFunc(spec.Cron, unicode.IsControl):
			return spec, "must not contain control characters", "value_error.cron"
		case strings.Contains(spec.Cron, "#"):
			// Temporal reads '#' as the start of a comment.
			return spec, "must not contain '#'", "value_error.cron"
		case strings.HasPrefix(spec.Cron, "@every"):
			return spec, "@every is not supported: use interval_seconds", "value_error.cron"
		}
	case "interval_seconds":
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil {
			return spec, "must be an integer", "type_error.integer"
		}
		if f != math.Trunc(f) {
			return spec, "must be an integer", "type_error.integer"
		}
		if f < 1 || f > maxIntervalSecs {
			return spec, "must be between 1 and 31622400 (366 days)", "value_error.number.not_in_range"
		}
		spec.IntervalSeconds = int64(f)
	case "run_at":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return spec, "must be an RFC 3339 date-time string", "type_error.datetime"
		}
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return spec, "must be an RFC 3339 date-time such as 2030-01-02T03:04:05Z", "value_error.datetime"
		}
		// Schedules fire on whole seconds.
		at = at.UTC().Truncate(time.Second)
		if !at.After(now) {
			return spec, "must be in the future", "value_error.datetime.past"
		}
		if !at.Before(maxRunAt) {
			return spec, "must be before 2100-01-01T00:00:00Z", "value_error.datetime"
		}
		spec.RunAt = at
	}
	return spec, "", ""
}

func handleScheduleCreate(ts *tasks.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, body, err := pathIDAndBody(w, r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		in, err := decodeScheduleBody(body, false, time.Now())
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		overlap := jobs.OverlapSkip
		if in.overlap != nil {
			overlap = *in.overlap
		}
		sch, err := ts.Schedule(r.Context(), id, *in.spec, overlap, in.paused != nil && *in.paused)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		w.Header().Set("Location", "/api/v1/schedules/"+sch.ID)
		encode(w, http.StatusCreated, sch)
	})
}

func handleTaskSchedules(ts *tasks.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathULID(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		list, err := ts.Schedules(r.Context(), id)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		encode(w, http.StatusOK, list)
	})
}

func handleScheduleGet(ts *tasks.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathULID(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		sch, err := ts.GetSchedule(r.Context(), id)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		encode(w, http.StatusOK, sch)
	})
}

// handleSchedulePatch pauses, unpauses, changes the spec or overlap of, and
// triggers a schedule (tasks.Service.ChangeSchedule).
func handleSchedulePatch(ts *tasks.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, body, err := pathIDAndBody(w, r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		in, err := decodeScheduleBody(body, true, time.Now())
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		change := jobs.ScheduleChange{Spec: in.spec, Overlap: in.overlap, Paused: in.paused}
		sch, err := ts.ChangeSchedule(r.Context(), id, change, in.trigger)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		if in.trigger && sch.TriggeredJobID != nil {
			w.Header().Set("Location", "/api/v1/jobs/"+*sch.TriggeredJobID)
		}
		encode(w, http.StatusOK, sch)
	})
}

func handleScheduleDelete(ts *tasks.Service, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathULID(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		if err := ts.DeleteSchedule(r.Context(), id); err != nil {
			writeError(w, r, logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// pathJobID returns the {id} path variable as a job id: a ULID in canonical
// form, or the id Temporal gives a scheduled run, <schedule ULID>-<time in
// RFC 3339, UTC, whole seconds>. Anything else is an invalid-ulid problem.
func pathJobID(r *http.Request) (string, error) {
	return parseJobID(mux.Vars(r)["id"])
}

// parseJobID is pathJobID for a job id given anywhere else.
func parseJobID(raw string) (string, error) {
	if len(raw) <= ulid.EncodedSize {
		return parseULID(raw)
	}
	prefix, stamp := raw[:ulid.EncodedSize], raw[ulid.EncodedSize:]
	id, err := ulid.ParseStrict(prefix)
	if err != nil || !strings.HasPrefix(stamp, "-") {
		return "", invalidULID(raw)
	}
	at, err := time.Parse(time.RFC3339, stamp[1:])
	if err != nil || at.UTC().Format(time.RFC3339) != stamp[1:] {
		return "", invalidULID(raw)
	}
	return id.String() + stamp, nil
}
