package chaptask

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/chaptask/chaptask/api"
	"github.com/chaptask/chaptask/metrics"
)

// telemetry is the service's own Prometheus registry (never the global
// one) holding chaptask's series and the Temporal SDK's, served on the
// API's /metrics and, when configured, on a listener of its own.
type telemetry struct {
	registry *prometheus.Registry
	metrics  *metrics.Metrics
	// sdk is the Temporal client's metrics handler.
	sdk    client.MetricsHandler
	closer []io.Closer
	logger *slog.Logger
}

func startTelemetry(cfg config, logger *slog.Logger) (*telemetry, error) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		return nil, err
	}
	sdk, sdkCloser := metrics.NewTemporalHandler(reg, logger)
	t := &telemetry{registry: reg, metrics: m, sdk: sdk, closer: []io.Closer{sdkCloser}, logger: logger}
	if cfg.MetricsAddr != "" {
		srv, err := serveMetrics(cfg.MetricsAddr, reg, cfg.APIKeys, logger)
		if err != nil {
			t.stop()
			return nil, err
		}
		t.closer = append(t.closer, srv)
	}
	return t, nil
}

// stop closes the metrics listener and stops reporting the SDK's series;
// call it after the Temporal client is closed.
func (t *telemetry) stop() {
	for _, c := range t.closer {
		if err := c.Close(); err != nil {
			t.logger.Warn("stop metrics", "error", err)
		}
	}
}

// serveMetrics serves /metrics on a listener of its own, for processes
// without the HTTP API (CHAPTASK_ROLE=worker), behind the API keys. Closing the server drops
// scrapes in flight, which are not worth waiting for.
func serveMetrics(addr string, g prometheus.Gatherer, keys []string, logger *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	// Scrapers send the key as "Authorization: Bearer <key>".
	srv := &http.Server{Handler: api.RequireAPIKey(keys, mux), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	logger.Info("serving metrics", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "error", err)
		}
	}()
	return srv, nil
}
