package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/chaptask/chaptask/db"
)

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
