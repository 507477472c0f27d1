package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/metrics"
	"github.com/chaptask/chaptask/registry"
	"github.com/chaptask/chaptask/tasks"
)

// Config holds what the HTTP API needs.
type Config struct {
	// DB stores tasks and artifacts.
	DB *bun.DB
	// Jobs runs and reads jobs; nil answers job endpoints with 503.
	Jobs *jobs.Service
	// Registry lists the registered functions; nil lists none.
	Registry *registry.Registry
	// HealthChecks run on GET /health next to the database check.
	HealthChecks []HealthCheck
	// Logger receives one line per request and request failures, each
	// with its request_id; nil discards them.
	Logger *slog.Logger
	// APIKeys, when not empty, are the keys accepted in X-API-Key; every
	// endpoint but /health then requires one.
	APIKeys []string
	// TasksReadOnly refuses task create, replace and delete (405): tasks
	// come from a file the operator manages. Execution still works.
	TasksReadOnly bool
	// ShellDisabled refuses to create or execute shell tasks.
	ShellDisabled bool
	// Metrics records requests and submitted jobs; nil records none.
	Metrics *metrics.Metrics
	// Gatherer is served on GET /metrics; nil serves an empty registry.
	Gatherer prometheus.Gatherer
	// DBTimeout bounds each database call a request makes, and each
	// /health check; zero means db.DefaultCallTimeout.
	DBTimeout time.Duration
	// About is served on GET /api/v1/about for the console.
	About About
	// ArtifactHierarchy labels artifact levels; a zero value means
	// DefaultArtifactHierarchy.
	ArtifactHierarchy ArtifactHierarchy
}

// hierarchy is the configured artifact hierarchy, or the default.
func (c Config) hierarchy() ArtifactHierarchy {
	if c.ArtifactHierarchy.LevelLabels == nil {
		return DefaultArtifactHierarchy()
	}
	return c.ArtifactHierarchy
}

// NewServer returns the chaptask HTTP API as one handler.
func NewServer(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = slog.New(LogHandler(cfg.Logger.Handler()))
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.NewRegistry()
	}
	if cfg.DBTimeout <= 0 {
		cfg.DBTimeout = db.DefaultCallTimeout
	}
	checks := append([]HealthCheck{{
		Name:  "database",
		Check: func(ctx context.Context) error { return cfg.DB.PingContext(ctx) },
	}}, cfg.HealthChecks...)
	ts := tasks.New(tasks.Config{
		DB:      cfg.DB,
		Jobs:    cfg.Jobs,
		Policy:  domain.Policy{ShellDisabled: cfg.ShellDisabled, TasksReadOnly: cfg.TasksReadOnly},
		Metrics: cfg.Metrics,
		Logger:  cfg.Logger,
	})
	r := routes(cfg, ts, checks)
	r.Use(recordRoute)
	// Keys are checked before routing, so an unauthenticated client learns
	// nothing about which paths exist.
	return observe(recoverPanics(requireAPIKey(cfg.APIKeys, cfg.Logger, boundDBCalls(cfg.DBTimeout, keepEncodedSlashes(r))), cfg.Logger), cfg.Metrics, cfg.Logger)
}
