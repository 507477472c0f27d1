package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"github.com/chaptask/chaptask/console"
	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/tasks"
)

// routes is the whole API in one place. To add an endpoint: a route here,
// its handler (decode, call the tasks or jobs service, encode) in the file
// of its resource, and its operation in openapi.json.
func routes(cfg Config, ts *tasks.Service, checks []HealthCheck) *mux.Router {
	bdb, js, log := cfg.DB, cfg.Jobs, cfg.Logger
	r := mux.NewRouter()
	// No cleaning: mux would answer /api/v1/tasks/..%2F..%2Fetc with a
	// redirect to /api/etc; see keepEncodedSlashes.
	r.SkipClean(true)

	r.Handle("/health", handleHealth(checks, cfg.DBTimeout, log)).Methods(http.MethodGet)
	r.Handle("/metrics", handleMetrics(cfg.Gatherer)).Methods(http.MethodGet)
	r.Handle("/openapi.json", handleOpenAPI()).Methods(http.MethodGet)
	r.Handle("/docs", handleDocs()).Methods(http.MethodGet)
	r.Handle("/api/v1/about", handleAbout(cfg)).Methods(http.MethodGet)

	// Full paths rather than a subrouter: gorilla/mux subrouters answer a
	// method mismatch with 404 instead of 405.
	createTask := handleTaskCreate(ts, log)
	replaceTask := handleTaskReplace(ts, log)
	deleteTask := noBody(handleTaskDelete(ts, log), log)
	if refused := ts.Writable(); refused != nil {
		createTask = readOnlyTasks(refused, log)
		replaceTask, deleteTask = createTask, createTask
	}
	r.Handle("/api/v1/tasks", createTask).Methods(http.MethodPost)
	r.Handle("/api/v1/tasks", handleTaskList(ts, log)).Methods(http.MethodGet)
	r.Handle("/api/v1/tasks/{id}", handleTaskGet(ts, log)).Methods(http.MethodGet)
	r.Handle("/api/v1/tasks/{id}", replaceTask).Methods(http.MethodPut)
	r.Handle("/api/v1/tasks/{id}", deleteTask).Methods(http.MethodDelete)

	r.Handle("/api/v1/tasks/{id}/$execute", needJobs(js, log, handleTaskExecute(ts, log))).Methods(http.MethodPost)

	r.Handle("/api/v1/tasks/{id}/$schedule", needJobs(js, log, handleScheduleCreate(ts, log))).Methods(http.MethodPost)
	r.Handle("/api/v1/tasks/{id}/$schedules", needJobs(js, log, handleTaskSchedules(ts, log))).Methods(http.MethodGet)
	r.Handle("/api/v1/schedules/{id}", needJobs(js, log, handleScheduleGet(ts, log))).Methods(http.MethodGet)
	r.Handle("/api/v1/schedules/{id}", needJobs(js, log, handleSchedulePatch(ts, log))).Methods(http.MethodPatch)
	r.Handle("/api/v1/schedules/{id}", needJobs(js, log, noBody(handleScheduleDelete(ts, log), log))).Methods(http.MethodDelete)

	r.Handle("/api/v1/jobs", needJobs(js, log, handleJobList(js, log))).Methods(http.MethodGet)
	r.Handle("/api/v1/jobs/$cancel", needJobs(js, log, handleJobCancelMany(js, log))).Methods(http.MethodPost)
	r.Handle("/api/v1/jobs/{id}/$rerun", needJobs(js, log, handleJobRerun(ts, log))).Methods(http.MethodPost)
	r.Handle("/api/v1/jobs/{id}", needJobs(js, log, handleJobGet(js, log))).Methods(http.MethodGet)
	r.Handle("/api/v1/jobs/{id}", needJobs(js, log, noBody(handleJobDelete(js, log), log))).Methods(http.MethodDelete)
	r.Handle("/api/v1/jobs/{id}/$stream", needJobs(js, log, handleJobStream(bdb, js, log))).Methods(http.MethodGet)
	r.Handle("/api/v1/jobs/{id}/$logs", needJobs(js, log, handleJobLogs(bdb, js, log))).Methods(http.MethodGet)

	r.Handle("/api/v1/artifacts", handleArtifactList(bdb, log)).Methods(http.MethodGet)
	r.Handle("/api/v1/artifacts/{id}", handleArtifactGet(bdb, log)).Methods(http.MethodGet)
	deleteArtifact := noBody(handleArtifactDelete(bdb, js, cfg.Metrics, log), log)
	if cfg.TasksReadOnly {
		deleteArtifact = readOnlyArtifacts(log)
	}
	r.Handle("/api/v1/artifacts/{id}", deleteArtifact).Methods(http.MethodDelete)
	r.Handle("/api/v1/artifacts/{id}/$tree", handleArtifactTree(bdb, cfg.hierarchy(), log)).Methods(http.MethodGet)
	r.Handle("/api/v1/artifacts/{id}/$expand", handleArtifactExpand(bdb, cfg.hierarchy(), log)).Methods(http.MethodGet)

	r.Handle("/api/v1/functions", handleFunctionList(cfg.Registry)).Methods(http.MethodGet)

	r.NotFoundHandler = redirectTrailingSlash(r, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, req, log, notFound("no route for %s %s", req.Method, truncate(req.URL.Path, maxEcho)))
	}))
	con := console.New(r.NotFoundHandler)
	r.Handle("/", con).Methods(http.MethodGet)
	r.Handle("/favicon.ico", con).Methods(http.MethodGet)
	r.Handle(console.AssetPrefix+"{file}", con).Methods(http.MethodGet)
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, req, log, newProblem(http.StatusMethodNotAllowed, typeMethodNotAllowed,
			"method "+req.Method+" is not allowed on "+truncate(req.URL.Path, maxEcho)))
	})
	return r
}

// noBody wraps a handler that takes no request body: an empty body, or an
// empty JSON object as some clients always send, is fine; anything else is
// refused (400 malformed, 422 with members), not silently ignored.
func noBody(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A bad id is the handler's to answer (invalid-ulid), body or not.
		if _, idErr := pathJobID(r); idErr == nil && r.ContentLength != 0 {
			body, err := readBody(w, r)
			if err == nil && len(bytes.TrimSpace(body)) > 0 {
				var members map[string]json.RawMessage
				if members, err = decodeObject(body); err == nil && len(members) > 0 {
					err = validationFailed([]fieldError{{Loc: []string{"body"}, Msg: "this endpoint takes no request body", Type: "value_error.extra"}})
				}
			}
			if err != nil {
				writeError(w, r, log, err)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// keepEncodedSlashes stops an encoded slash from splitting a path segment:
// a segment that decodes to something with a "/" (such as ..%2F..%2Fetc
// given as an id) is routed in its encoded form, so it reaches its
// route's {id} and fails as an id instead of becoming another path. Other
// escapes (%24execute) are decoded as usual.
func keepEncodedSlashes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawPath == "" {
			next.ServeHTTP(w, r)
			return
		}
		segments := strings.Split(r.URL.EscapedPath(), "/")
		for i, seg := range segments {
			if dec, err := url.PathUnescape(seg); err == nil && !strings.Contains(dec, "/") {
				segments[i] = dec
			}
		}
		u := *r.URL
		u.Path, u.RawPath = strings.Join(segments, "/"), ""
		r2 := *r
		r2.URL = &u
		next.ServeHTTP(w, &r2)
	})
}

// needJobs is h when job execution is configured and otherwise answers 503,
// so an API without Temporal still serves tasks and artifacts.
func needJobs(js *jobs.Service, log *slog.Logger, h http.Handler) http.Handler {
	if js != nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, log, tasks.ErrNoExecution)
	})
}

// recoverPanics turns a handler panic into a logged 500 instead of a dropped
// connection.
func recoverPanics(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				w.Header().Set("Content-Type", "application/problem+json")
				encodeStatus(w, http.StatusInternalServerError, problem{
					Type: typeInternal, Title: "Internal Server Error", Status: 500,
					Detail: "internal server error", Instance: r.URL.Path,
				})
			}
		}()
		next.ServeHTTP(w, r)
	})
}
