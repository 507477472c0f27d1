package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/domain"
)

// typeInsufficientStorage marks a write refused because a disk is full.
const typeInsufficientStorage = "urn:chapkit:error:insufficient-storage"

// answers is the one table from domain error codes to HTTP answers. Every
// error a handler gets from the layers below goes through it (problemFor).
var answers = map[domain.Code]struct {
	status int
	typ    string
}{
	domain.NotFound:    {http.StatusNotFound, typeNotFound},
	domain.Refused:     {http.StatusBadRequest, typeBadRequest},
	domain.Invalid:     {http.StatusUnprocessableEntity, typeValidationFailed},
	domain.Conflict:    {http.StatusConflict, typeConflict},
	domain.ReadOnly:    {http.StatusMethodNotAllowed, typeMethodNotAllowed},
	domain.Unavailable: {http.StatusServiceUnavailable, typeServiceUnavailable},
	domain.StorageFull: {http.StatusInsufficientStorage, typeInsufficientStorage},
}

// problemFor is the answer to err: a problem as it is, a domain error (or
// a database failure db.Classify recognises) through answers. Anything
// else is nil, an internal error.
func problemFor(err error) *problem {
	var p *problem
	if errors.As(err, &p) {
		return p
	}
	var e *domain.Error
	if !errors.As(db.Classify(err), &e) {
		return nil
	}
	if e.Code == domain.Unavailable && db.IsDiskFull(err) {
		// A dependency that failed for want of disk is not down: say so,
		// so that an operator frees space instead of waiting.
		e = &domain.Error{Code: domain.StorageFull, Message: "Temporal cannot write its store: the data directory's disk is full"}
	}
	answer, ok := answers[e.Code]
	if !ok {
		return nil
	}
	switch e.Code {
	case domain.Invalid:
		loc, typ := e.Field, e.Reason
		if len(loc) == 0 {
			loc = []string{"body"}
		}
		if typ == "" {
			typ = "value_error"
		}
		return validationFailed([]fieldError{{Loc: loc, Msg: e.Message, Type: typ}})
	case domain.StorageFull:
		// A client (and an operator reading logs) tells it from an outage.
		return newProblem(answer.status, answer.typ, e.Message+"; free space on the data volume and try again")
	}
	return newProblem(answer.status, answer.typ, e.Message)
}

// about names what a not-found error is about: the lower layers' lookups
// know what they read, not how the client named it.
func about(err error, format string, args ...any) error {
	if domain.CodeOf(err) == domain.NotFound {
		return &domain.Error{Code: domain.NotFound, Message: fmt.Sprintf(format, args...), Err: err}
	}
	return err
}
