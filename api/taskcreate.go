package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db"
)

// createTask stores t, the task in describes, honouring the request's
// Idempotency-Key: a key already used with the same body answers the task
// it created (replayed), with another body a 422. A write whose outcome is
// unknown (the database stopped answering mid-statement) is looked up
// before the client hears of a failure: a task that exists is created, and
// a 503 names the id it would have, so the client can find out.
func createTask(r *http.Request, bdb *bun.DB, t *db.Task, in taskInput) (stored *db.Task, replayed bool, err error) {
	key, err := idempotencyKey(r)
	if err != nil {
		return nil, false, err
	}
	if key == "" {
		err = db.CreateTask(r.Context(), bdb, t)
		stored = t
	} else {
		digest := taskInputDigest(in)
		t.CreateKey, t.CreateRequestSHA256 = &key, &digest
		stored, replayed, err = db.CreateTaskOnce(r.Context(), bdb, t)
		if err == nil && replayed && (stored.CreateRequestSHA256 == nil || *stored.CreateRequestSHA256 != digest) {
			return nil, false, validationFailed([]fieldError{{
				Loc:  []string{"header", idempotencyKeyHeader},
				Msg:  "was already used to create task " + stored.ID + " with a different body; send a new key for a new task",
				Type: "value_error.idempotency_key_reused",
			}})
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
	unknown := unavailable("database unavailable, try again later; whether task %s was created is unknown: GET /api/v1/tasks/%s tells, or retry with an Idempotency-Key", t.ID, t.ID)
	if db.IsTimeout(err) {
		return nil, false, unknown
	}
	existing, getErr := db.GetTask(context.WithoutCancel(r.Context()), bdb, t.ID)
	switch {
	case getErr == nil:
		return existing, false, nil
	case errors.Is(getErr, db.ErrNotFound):
		return nil, false, err
	}
	return nil, false, unknown
}

// taskInputDigest is the SHA-256 of a task body as validated, so bodies that
// differ only in spacing or member order count as the same request.
func taskInputDigest(in taskInput) string {
	t := in.task("")
	t.UpdatedAt = time.Time{} // the digest must not depend on when it is taken
	t.Parameters, t.RetryPolicy = canonicalJSON(in.Parameters), canonicalJSON(in.RetryPolicy)
	canonical, _ := json.Marshal(newTaskJSON(t))
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}

// canonicalJSON re-encodes a validated document with its object members
// sorted; numbers keep their text.
func canonicalJSON(raw db.JSON) db.JSON {
	if raw == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw
	}
	out, err := json.Marshal(v)
	if err != nil {
		return raw
	}
	return out
}
