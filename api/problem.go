package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// Problem types of the chapkit API (RFC 9457 "type" members).
const (
	typeNotFound           = "urn:chapkit:error:not-found"
	typeInvalidULID        = "urn:chapkit:error:invalid-ulid"
	typeValidationFailed   = "urn:chapkit:error:validation-failed"
	typeConflict           = "urn:chapkit:error:conflict"
	typeBadRequest         = "urn:chapkit:error:bad-request"
	typeUnauthorized       = "urn:chapkit:error:unauthorized"
	typeMethodNotAllowed   = "urn:chapkit:error:method-not-allowed"
	typePayloadTooLarge    = "urn:chapkit:error:payload-too-large"
	typeServiceUnavailable = "urn:chapkit:error:service-unavailable"
	typeInternal           = "urn:chapkit:error:internal"
)

// statusClientClosed is written, for the logs and metrics only, when the
// client left before its answer was ready.
const statusClientClosed = 499

// maxEcho bounds how much of a request path an error repeats back.
const maxEcho = 256

// problem is an RFC 9457 problem document. Every error the API answers with
// is one of these, written by writeError.
type problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail"`
	Instance string       `json:"instance"`
	Errors   []fieldError `json:"errors,omitempty"`
}

// MarshalJSON writes a validation problem's detail as the list of bad
// fields, FastAPI's shape: chapkit clients read body["detail"][0]["loc"].
// RFC 9457 tells problem-aware clients to ignore a member of an unexpected
// type, so nothing else changes. Errors keeps the same list for clients of
// earlier chaptask versions; Detail, the one-line summary, stays the error
// text for logs.
func (p problem) MarshalJSON() ([]byte, error) {
	type plain problem // without this method
	if len(p.Errors) == 0 {
		return json.Marshal(plain(p))
	}
	return json.Marshal(struct {
		plain
		Detail []fieldError `json:"detail"`
	}{plain(p), p.Errors})
}

func (p *problem) Error() string { return p.Detail }

// fieldError names one invalid input in the shape FastAPI clients of chapkit
// already parse: loc is ["body"|"query"|"path", name].
type fieldError struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

func newProblem(status int, typ, detail string) *problem {
	return &problem{Type: typ, Title: http.StatusText(status), Status: status, Detail: detail}
}

func notFound(format string, args ...any) *problem {
	return newProblem(http.StatusNotFound, typeNotFound, fmt.Sprintf(format, args...))
}

func badRequest(format string, args ...any) *problem {
	return newProblem(http.StatusBadRequest, typeBadRequest, fmt.Sprintf(format, args...))
}

func invalidULID(raw string) *problem {
	p := newProblem(http.StatusBadRequest, typeInvalidULID, "Invalid ULID format: "+truncate(raw, maxEcho))
	p.Title = "Invalid ULID"
	return p
}

// validationFailed builds a 422 naming every bad field.
func validationFailed(errs []fieldError) *problem {
	parts := make([]string, len(errs))
	for i, e := range errs {
		// Name nested fields by their path: retry_policy.max_attempts.
		name := e.Loc[len(e.Loc)-1]
		if len(e.Loc) > 2 {
			name = strings.Join(e.Loc[1:], ".")
		}
		parts[i] = name + ": " + e.Msg
	}
	p := newProblem(http.StatusUnprocessableEntity, typeValidationFailed, strings.Join(parts, "; "))
	p.Title = "Validation Failed"
	p.Errors = errs
	return p
}

// writeError answers r with err as a problem document (see problemFor).
// Anything that is not a problem or a domain error is an internal error: it is logged here, once, and the
// client sees a generic message.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	p := problemFor(err)
	if p == nil && errors.Is(r.Context().Err(), context.Canceled) {
		// The client went away mid-request, and whatever failed most likely
		// failed because of it (gRPC reports it as its own Canceled status,
		// not context.Canceled). Nobody reads the answer; 499 is nginx's
		// "client closed request".
		logger.DebugContext(r.Context(), "client closed the request", "method", r.Method, "path", r.URL.Path)
		w.WriteHeader(statusClientClosed)
		return
	}
	if p == nil {
		logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		p = newProblem(http.StatusInternalServerError, typeInternal, "internal server error")
	}
	doc := *p
	doc.Instance = truncate(r.URL.Path, maxEcho)
	setRetryAfter(w, doc.Status)
	w.Header().Set("Content-Type", "application/problem+json")
	encodeStatus(w, doc.Status, doc)
}
