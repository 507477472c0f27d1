package chaptask

import (
	"context"
	"log/slog"
	"time"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/metrics"
)

// retentionBatch is how many artifacts one transaction of a sweep removes:
// small enough that no lock is held for long, so requests and workers
// writing meanwhile wait milliseconds at most.
const retentionBatch = 200

// sweepInterval is how often the retention policy runs: often enough that
// nothing outlives the policy by much, never more than hourly.
func sweepInterval(retention time.Duration) time.Duration {
	return min(time.Hour, max(time.Second, retention/10))
}

// runRetention removes artifacts older than retention, and the live output
// of their jobs, until ctx ends: one sweep at start, then every
// sweepInterval. Each sweep logs one line and counts in the metrics.
// Several processes may sweep at once; they only share the work.
func runRetention(ctx context.Context, bdb *bun.DB, retention time.Duration, js *jobs.Service, m *metrics.Metrics, logger *slog.Logger) {
	ticker := time.NewTicker(sweepInterval(retention))
	defer ticker.Stop()
	for {
		sweepRetention(ctx, bdb, retention, js, m, logger)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func sweepRetention(ctx context.Context, bdb *bun.DB, retention time.Duration, js *jobs.Service, m *metrics.Metrics, logger *slog.Logger) {
	began := time.Now()
	cutoff := began.Add(-retention)
	artifacts, logs := 0, 0
	var err error
	for ctx.Err() == nil {
		var removed []db.Artifact
		removed, err = db.ExpireArtifacts(ctx, bdb, cutoff, retentionBatch)
		if err != nil {
			break
		}
		artifacts += len(removed)
		m.ArtifactsRemoved("retention", len(removed))
		for i := range removed {
			js.ForgetArtifact(&removed[i])
		}
		if len(removed) < retentionBatch {
			break
		}
	}
	for err == nil && ctx.Err() == nil {
		var n int
		n, err = db.ExpireJobLogs(ctx, bdb, cutoff, retentionBatch)
		logs += n
		if n < retentionBatch {
			break
		}
	}
	if ctx.Err() != nil {
		return // shutting down: the next start sweeps again
	}
	m.RetentionSwept(err != nil)
	attrs := []any{"cutoff", cutoff.UTC().Format(time.RFC3339), "artifacts_removed", artifacts,
		"job_logs_removed", logs, "duration_ms", time.Since(began).Milliseconds()}
	if err != nil {
		logger.Warn("artifact retention sweep failed; retrying at the next sweep", append(attrs, "error", err)...)
		return
	}
	logger.Info("artifact retention sweep", attrs...)
}
