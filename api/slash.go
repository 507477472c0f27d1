package api

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// redirectTrailingSlash answers a path that differs from a route only by one
// trailing slash with 307 to the route, keeping the query string, as FastAPI
// does for chapkit (GET /api/v1/tasks/ -> /api/v1/tasks). 307 keeps the
// method and body, so a POST to /api/v1/tasks/ still creates the task. Every
// other unmatched request goes to notFound.
func redirectTrailingSlash(r *mux.Router, notFound http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		path := req.URL.EscapedPath()
		trimmed := strings.TrimSuffix(path, "/")
		if trimmed == path || trimmed == "" || strings.HasSuffix(trimmed, "/") {
			notFound.ServeHTTP(w, req)
			return
		}
		probe := req.Clone(req.Context())
		probe.URL.Path = strings.TrimSuffix(req.URL.Path, "/")
		probe.URL.RawPath = ""
		if trimmed != probe.URL.Path {
			probe.URL.RawPath = trimmed
		}
		var match mux.RouteMatch
		if !r.Match(probe, &match) || (match.MatchErr != nil && match.MatchErr != mux.ErrMethodMismatch) {
			notFound.ServeHTTP(w, req)
			return
		}
		target := trimmed
		if req.URL.RawQuery != "" {
			target += "?" + req.URL.RawQuery
		}
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
}
