package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// HealthCheck is one named dependency probe of GET /health.
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) error
	// Degrades makes a failure report the service "degraded" rather than
	// "unhealthy" (still 503): it serves, but not for long.
	Degrades bool
}

// maxHealthCheckTimeout keeps /health answering promptly when a dependency
// hangs; a shorter database timeout shortens it.
const maxHealthCheckTimeout = 3 * time.Second

type healthJSON struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	Errors map[string]string `json:"errors,omitempty"`
}

func handleHealth(checks []HealthCheck, dbTimeout time.Duration, logger *slog.Logger) http.Handler {
	timeout := min(maxHealthCheckTimeout, dbTimeout)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		type result struct {
			name     string
			err      error
			degrades bool
		}
		results := make(chan result, len(checks))
		for _, c := range checks {
			go func() { results <- result{c.Name, c.Check(ctx), c.Degrades} }()
		}
		out := healthJSON{Status: "healthy", Checks: map[string]string{}}
		pending := map[string]HealthCheck{}
		for _, c := range checks {
			pending[c.Name] = c
		}
		var answered []result
		for len(pending) > 0 {
			select {
			case res := <-results:
				answered = append(answered, res)
				delete(pending, res.name)
			case <-ctx.Done():
				// A check that ignores its deadline must not hold the
				// answer: it counts as failed.
				for _, c := range pending {
					answered = append(answered, result{c.Name, fmt.Errorf("no answer within %s", timeout), c.Degrades})
				}
				clear(pending)
			}
		}
		for _, res := range answered {
			if res.err == nil {
				out.Checks[res.name] = "healthy"
				continue
			}
			logger.WarnContext(r.Context(), "health check failed", "check", res.name, "error", res.err)
			switch {
			case !res.degrades:
				out.Status = "unhealthy"
			case out.Status == "healthy":
				out.Status = "degraded"
			}
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
		setRetryAfter(w, status)
		encode(w, status, out)
	})
}
