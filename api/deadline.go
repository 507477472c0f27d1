package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/chaptask/chaptask/db"
)

// retryAfterSeconds is the Retry-After of a 503 or 507: long enough for a
// restarting database or a freed disk, short enough not to stall clients.
const retryAfterSeconds = 2

// boundDBCalls gives every database call a request makes its own deadline
// of d, so a stalled database answers each request with a 503 within d
// instead of holding it for as long as the connection takes to give up.
func boundDBCalls(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(db.WithCallTimeout(r.Context(), d)))
	})
}

// setRetryAfter tells clients of an answer that invites a retry when to
// come back.
func setRetryAfter(w http.ResponseWriter, status int) {
	if status == http.StatusServiceUnavailable || status == http.StatusInsufficientStorage {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
}
