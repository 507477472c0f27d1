package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/metrics"
)

// requestIDHeader carries a request's id in both directions.
const requestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an incoming request id worth honouring.
const maxRequestIDLen = 128

// requestInfo is what the outermost middleware learns about a request while
// it is served: its id, set before the handler runs, and its route
// template, set once the router has matched it.
type requestInfo struct {
	id    string
	route string
}

type requestInfoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

// observe gives every request an id (X-Request-Id, honoured when sane),
// and once it is answered records it in the metrics and logs one line:
// info level, debug for the health and metrics endpoints that probes and
// scrapers call all the time.
func observe(next http.Handler, m *metrics.Metrics, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{id: r.Header.Get(requestIDHeader), route: metrics.UnmatchedRoute}
		if !validRequestID(info.id) {
			info.id = db.NewID()
		}
		w.Header().Set(requestIDHeader, info.id)
		ctx := context.WithValue(r.Context(), requestInfoKey{}, info)
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))

		elapsed := time.Since(start)
		status := rec.status
		if status == 0 { // nothing written: net/http answers 200
			status = http.StatusOK
		}
		m.ObserveRequest(info.route, r.Method, status, elapsed)
		level := slog.LevelInfo
		if info.route == "/health" || info.route == "/metrics" {
			level = slog.LevelDebug
		}
		logger.LogAttrs(ctx, level, "request",
			slog.String("method", r.Method),
			slog.String("route", info.route),
			slog.String("path", truncate(r.URL.Path, maxEcho)),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		)
	})
}

// validRequestID accepts ids a log line can carry as they are: 1 to 128
// visible ASCII characters.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// recordRoute notes the matched route's template for observe. It runs as
// router middleware, which mux calls only for matched routes: anything
// else stays metrics.UnmatchedRoute, so raw paths never become labels.
func recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := infoFrom(r.Context()); info != nil {
			if tpl, err := mux.CurrentRoute(r).GetPathTemplate(); err == nil {
				info.route = tpl
			}
		}
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status a handler answered with. It keeps
// Server-Sent Events working: Flush reaches the connection, and Unwrap lets
// http.ResponseController find the underlying writer.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 { // 1xx are interim answers
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush sends buffered data to the client (http.Flusher).
func (r *statusRecorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// requestIDHandler adds the request id to every record logged with a
// request's context, so a handler's error logs name the request they
// belong to without passing the id around.
type requestIDHandler struct{ slog.Handler }

// LogHandler wraps h so that records logged with the context of a request
// this API serves carry its request_id. The API's own logger is wrapped
// already; wrap the loggers of services it calls (such as jobs.Service).
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if info := infoFrom(ctx); info != nil {
		rec.AddAttrs(slog.String("request_id", info.id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
