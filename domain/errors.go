package domain

import (
	"errors"
	"fmt"
)

// Code classifies an Error; the API answers each with its own status.
type Code string

// Error codes. Each names what the caller can do about the error, not
// where it came from.
const (
	// NotFound: the thing named does not exist.
	NotFound Code = "not_found"
	// Refused: the request is well-formed but a rule refuses it (a
	// disabled task, a shell task where shell is off).
	Refused Code = "refused"
	// Invalid: an input is wrong; Field names it.
	Invalid Code = "invalid"
	// Conflict: the request cannot apply to the thing's current state.
	Conflict Code = "conflict"
	// ReadOnly: this deployment does not change the thing through the API.
	ReadOnly Code = "read_only"
	// Unavailable: a dependency (database, Temporal) cannot be reached;
	// try again later.
	Unavailable Code = "unavailable"
	// StorageFull: a write failed for want of disk space.
	StorageFull Code = "storage_full"
)

// Error is the error every layer under the API returns for an outcome the
// caller can act on. Anything else is an internal error.
type Error struct {
	Code Code
	// Message is for the client, complete: "Task 01J… not found".
	Message string
	// Field, for Invalid, locates the input at fault, as FastAPI's loc
	// does: ["body", "task_type"].
	Field []string
	// Reason, for Invalid, is the machine-readable kind of fault, such as
	// "value_error.shell_disabled".
	Reason string
	// Err is the cause, for logs and errors.Is; never shown to clients.
	Err error
}

// Errorf returns an Error of code with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the code of the first Error in err's chain, "" if none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
