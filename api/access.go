package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"

	"github.com/chaptask/chaptask/console"
	"github.com/chaptask/chaptask/domain"
)

// apiKeyHeader carries the API key of a request.
const apiKeyHeader = "X-API-Key"

// requireAPIKey lets a request through only with one of keys in X-API-Key
// (or as "Authorization: Bearer <key>"),
// except /health, which load balancers and orchestrators probe without
// credentials, and the console's files. With no keys configured the API is
// open.
func requireAPIKey(keys []string, logger *slog.Logger, next http.Handler) http.Handler {
	if len(keys) == 0 {
		return next
	}
	// Comparing fixed-size digests keeps the comparison constant-time in
	// the key's length too.
	digests := make([][sha256.Size]byte, len(keys))
	for i, k := range keys {
		digests[i] = sha256.Sum256([]byte(k))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The console's own files hold no data, and the page must load to
		// ask for the key.
		if r.URL.Path == "/health" || console.IsPublic(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		given := r.Header.Get(apiKeyHeader)
		if given == "" {
			// What Prometheus scrapers and the temporal CLI send.
			given, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		got := sha256.Sum256([]byte(given))
		match := 0
		for i := range digests {
			// No early exit: every key is compared on every request.
			match |= subtle.ConstantTimeCompare(got[:], digests[i][:])
		}
		if given == "" || match != 1 {
			detail := "missing API key: send it in the X-API-Key header"
			if given != "" {
				detail = "invalid API key"
			}
			if r.ContentLength != 0 {
				// Closing is cheaper than reading a body nobody will use,
				// and a client sending it slowly cannot hold the answer.
				w.Header().Set("Connection", "close")
			}
			writeError(w, r, logger, newProblem(http.StatusUnauthorized, typeUnauthorized, detail))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequireAPIKey guards a handler served outside the API (the metrics and
// profiling listeners) with the API's keys, so that no listener is a way
// around them. With no keys it is next.
func RequireAPIKey(keys []string, next http.Handler) http.Handler {
	return requireAPIKey(keys, slog.New(slog.DiscardHandler), next)
}

// readOnlyTasks answers task writes when the deployment manages its tasks
// from a file (refused, tasks.Service.Writable): like chapkit's
// CrudPermissions, the method is not allowed.
func readOnlyTasks(refused error, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET")
		writeError(w, r, logger, &domain.Error{Code: domain.ReadOnly, Message: refused.Error() + "; " + r.Method + " is not allowed"})
	})
}

// readOnlyArtifacts answers artifact deletes in a read-only deployment: the
// API changes no stored data; the retention policy still expires them.
func readOnlyArtifacts(logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET")
		writeError(w, r, logger, newProblem(http.StatusMethodNotAllowed, typeMethodNotAllowed,
			"artifacts are read-only in this deployment (CHAPTASK_TASKS_READ_ONLY); they expire through CHAPTASK_ARTIFACT_RETENTION"))
	})
}
