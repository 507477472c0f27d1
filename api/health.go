package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// HealthCheck is one named dependency probe of GET /health.
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// healthCheckTimeout keeps /health answering promptly when a dependency hangs.
const healthCheckTimeout = 3 * time.Second

type healthJSON struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	Errors map[string]string `json:"errors,omitempty"`
}

func handleHealth(checks []HealthCheck, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), healthCheckTimeout)
		defer cancel()
		type result struct {
			name string
			err  error
		}
		results := make(chan result, len(checks))
		for _, c := range checks {
			go func() { results <- result{c.Name, c.Check(ctx)} }()
		}
		out := healthJSON{Status: "healthy", Checks: map[string]string{}}
		for range checks {
			res := <-results
			if res.err == nil {
				out.Checks[res.name] = "healthy"
				continue
			}
			logger.WarnContext(r.Context(), "health check failed", "check", res.name, "error", res.err)
			out.Status = "unhealthy"
			out.Checks[res.name] = "unhealthy"
			if out.Errors == nil {
				out.Errors = map[string]string{}
			}
			out.Errors[res.name] = res.err.Error()
		}
		status := http.StatusOK
		if out.Status != "healthy" {
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Cache-Control", "no-store")
		encode(w, status, out)
	})
}
