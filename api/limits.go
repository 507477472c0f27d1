package api

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/workflows"
)

// Bounds of a task's retry policy. They keep every policy one Temporal
// accepts and one a user can reason about: at most a day between retries.
const (
	maxRetryAttempts      = 100
	maxRetryIntervalSecs  = 24 * 60 * 60
	maxBackoffCoefficient = 100
)

// decodeRetryPolicy validates a retry_policy object and returns it with
// every omitted member set to its default, so the stored policy, the one
// echoed back and the one a job runs with are the same.
func decodeRetryPolicy(raw json.RawMessage) (db.JSON, []fieldError) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return nil, []fieldError{{Loc: []string{"body", "retry_policy"}, Msg: "must be a JSON object or null", Type: "type_error.dict"}}
	}
	var errs []fieldError
	bad := func(field, msg, typ string) {
		errs = append(errs, fieldError{Loc: []string{"body", "retry_policy", field}, Msg: msg, Type: typ})
	}
	p := workflows.DefaultRetryPolicy()
	maxGiven := false
	for name, value := range members {
		if isNull(value) {
			continue // null means the default, as for the task's own fields
		}
		switch name {
		case "max_attempts":
			n, msg := decodeInt(value, 1, maxRetryAttempts)
			if msg != "" {
				bad(name, msg, "value_error.number")
			}
			p.MaxAttempts = int(n)
		case "initial_interval_seconds":
			f, msg := decodeNumber(value, 0, false, maxRetryIntervalSecs)
			if msg != "" {
				bad(name, msg, "value_error.number")
			}
			p.InitialIntervalSeconds = f
		case "backoff_coefficient":
			f, msg := decodeNumber(value, 1, true, maxBackoffCoefficient)
			if msg != "" {
				bad(name, msg, "value_error.number")
			}
			p.BackoffCoefficient = f
		case "maximum_interval_seconds":
			f, msg := decodeNumber(value, 0, false, maxRetryIntervalSecs)
			if msg != "" {
				bad(name, msg, "value_error.number")
			}
			p.MaximumIntervalSeconds, maxGiven = f, true
		default:
			// A misspelt member would otherwise silently mean "default".
			bad(truncate(name, 64), "unknown field; expected max_attempts, initial_interval_seconds, backoff_coefficient or maximum_interval_seconds", "value_error.extra")
		}
	}
	if len(errs) > 0 {
		sortFieldErrors(errs)
		return nil, errs
	}
	switch {
	case !maxGiven:
		// The default cap never undercuts a longer first interval.
		p.MaximumIntervalSeconds = max(p.MaximumIntervalSeconds, p.InitialIntervalSeconds)
	case p.MaximumIntervalSeconds < p.InitialIntervalSeconds:
		bad("maximum_interval_seconds", "must not be less than initial_interval_seconds", "value_error.number")
		return nil, errs
	}
	out, err := json.Marshal(p)
	if err != nil { // plain numbers always marshal
		return nil, []fieldError{{Loc: []string{"body", "retry_policy"}, Msg: err.Error(), Type: "value_error"}}
	}
	return db.JSON(out), nil
}

// retryPolicyJSON is a stored retry policy in its documented member order,
// which PostgreSQL's jsonb does not keep.
func retryPolicyJSON(stored db.JSON) json.RawMessage {
	if stored == nil {
		return json.RawMessage("null")
	}
	var p workflows.RetryPolicy
	if err := json.Unmarshal(stored, &p); err != nil {
		return json.RawMessage(stored)
	}
	out, err := json.Marshal(p)
	if err != nil {
		return json.RawMessage(stored)
	}
	return out
}

// sortFieldErrors orders errors by field name, so a response does not
// depend on map iteration order.
func sortFieldErrors(errs []fieldError) {
	slices.SortFunc(errs, func(a, b fieldError) int {
		return strings.Compare(a.Loc[len(a.Loc)-1], b.Loc[len(b.Loc)-1])
	})
}

// decodeInt reads a JSON integer within [lo, hi]. An integral number such
// as 5.0 counts as an integer. It returns why raw is unacceptable, or "".
func decodeInt(raw json.RawMessage, lo, hi int64) (int64, string) {
	f, ok := jsonNumber(raw)
	if !ok || f != math.Trunc(f) {
		return 0, "must be an integer"
	}
	if f < float64(lo) || f > float64(hi) {
		return 0, "must be between " + strconv.FormatInt(lo, 10) + " and " + strconv.FormatInt(hi, 10)
	}
	return int64(f), ""
}

// decodeNumber reads a JSON number above lo (or at least lo, when
// inclusive) and at most hi. It returns why raw is unacceptable, or "".
func decodeNumber(raw json.RawMessage, lo float64, inclusive bool, hi float64) (float64, string) {
	f, ok := jsonNumber(raw)
	if !ok {
		return 0, "must be a number"
	}
	low := "greater than " + strconv.FormatFloat(lo, 'g', -1, 64)
	if inclusive {
		low = "at least " + strconv.FormatFloat(lo, 'g', -1, 64)
	}
	if f < lo || (!inclusive && f == lo) || f > hi {
		return 0, "must be " + low + " and at most " + strconv.FormatFloat(hi, 'g', -1, 64)
	}
	return f, ""
}

// jsonNumber parses raw as a JSON number (not a string or a boolean).
func jsonNumber(raw json.RawMessage) (float64, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return 0, false
	}
	n, ok := v.(json.Number) // a string such as "5" is no number
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil && !math.IsInf(f, 0)
}
