package tasks

import (
	"context"
	"errors"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/domain"
)

// IdempotencyKeyHeader names the request header whose value makes a create
// or an execute idempotent; errors about the key name it.
const IdempotencyKeyHeader = "Idempotency-Key"

// Create stores t. With a key, a key already used with the same request
// (digest) returns the task it created, replayed; with another request, a
// domain.Invalid error. A write whose outcome is unknown (the database
// stopped answering mid-statement) is looked up before the caller hears of
// a failure: a task that exists is created, and the error names the id it
// would have, so the client can find out.
func (s *Service) Create(ctx context.Context, t *db.Task, key, digest string) (stored *db.Task, replayed bool, err error) {
	if err := s.Writable(); err != nil {
		return nil, false, err
	}
	if err := Admit(s.policy, t); err != nil {
		return nil, false, err
	}
	if key == "" {
		err = db.CreateTask(ctx, s.db, t)
		stored = t
	} else {
		t.CreateKey, t.CreateRequestSHA256 = &key, &digest
		stored, replayed, err = db.CreateTaskOnce(ctx, s.db, t)
		if err == nil && replayed && (stored.CreateRequestSHA256 == nil || *stored.CreateRequestSHA256 != digest) {
			return nil, false, &domain.Error{
				Code:    domain.Invalid,
				Field:   []string{"header", IdempotencyKeyHeader},
				Message: "was already used to create task " + stored.ID + " with a different body; send a new key for a new task",
				Reason:  "value_error.idempotency_key_reused",
			}
		}
	}
	if err == nil {
		return stored, replayed, nil
	}
	if db.IsDiskFull(err) || !db.IsUnavailable(err) {
		return nil, false, err
	}
	// The statement may have committed before its answer was lost. A
	// database that timed out would time out again, and the request must
	// answer within its bound: say which id to look for. Otherwise (the
	// connection broke) look once, even if the client has gone.
	unknown := domain.Errorf(domain.Unavailable, "database unavailable, try again later; whether task %s was created is unknown: GET /api/v1/tasks/%s tells, or retry with an Idempotency-Key", t.ID, t.ID)
	unknown.Err = err
	if db.IsTimeout(err) {
		return nil, false, unknown
	}
	existing, getErr := db.GetTask(context.WithoutCancel(ctx), s.db, t.ID)
	switch {
	case getErr == nil:
		return existing, false, nil
	case errors.Is(getErr, db.ErrNotFound):
		return nil, false, err
	}
	return nil, false, unknown
}
