package metrics

import (
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// temporalReportInterval is how often the Temporal SDK's metrics reach the
// registry.
const temporalReportInterval = time.Second

// NewTemporalHandler returns a metrics handler for the Temporal client
// (client.Options.MetricsHandler) that exports the SDK's own series
// (temporal_request_total, temporal_workflow_completed_total, …) through
// reg, next to chaptask's. Timers become histograms, which unlike summaries
// aggregate across processes. Close the returned io.Closer after the client.
func NewTemporalHandler(reg prometheus.Registerer, logger *slog.Logger) (client.MetricsHandler, io.Closer) {
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer:       reg,
		DefaultTimerType: tallyprom.HistogramTimerType,
		// The default panics; a series the SDK cannot register is not
		// worth stopping a worker for.
		OnRegisterError: func(err error) {
			logger.Warn("register a Temporal SDK metric", "error", err)
		},
	})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:         reporter,
		Separator:              tallyprom.DefaultSeparator,
		SanitizeOptions:        &sdktally.PrometheusSanitizeOptions,
		OmitCardinalityMetrics: true,
	}, temporalReportInterval)
	return sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope)), closer
}
