package api

import (
	"net/http"
)

// About describes the running service to people: the console shows it on
// its overview and uses it to hide what this deployment forbids.
type About struct {
	// Version is the build's module version, "(devel)" for a source build.
	Version string
	// Mode is "embedded" (in-process Temporal server) or "cluster".
	Mode string
	// Role is "all" or "api" (a worker-only process serves no API).
	Role string
	// Database is "sqlite" or "postgresql".
	Database string
	// TemporalNamespace is the namespace jobs run in.
	TemporalNamespace string
	// TemporalUIURL is the Temporal Web UI's base URL; empty when unknown.
	TemporalUIURL string
}

type aboutJSON struct {
	Service           string  `json:"service"`
	Version           string  `json:"version"`
	Mode              string  `json:"mode"`
	Role              string  `json:"role"`
	Database          string  `json:"database"`
	TemporalNamespace string  `json:"temporal_namespace"`
	TemporalUIURL     *string `json:"temporal_ui_url"`
	TasksReadOnly     bool    `json:"tasks_read_only"`
	ShellEnabled      bool    `json:"shell_enabled"`
	APIKeyRequired    bool    `json:"api_key_required"`
	JobsAvailable     bool    `json:"jobs_available"`
}

// handleAbout answers GET /api/v1/about: what kind of deployment this is
// and which writes it allows. It holds no secret, but like every endpoint
// but /health it needs the API key when keys are set.
func handleAbout(cfg Config) http.Handler {
	out := aboutJSON{
		Service:           "chaptask",
		Version:           cfg.About.Version,
		Mode:              cfg.About.Mode,
		Role:              cfg.About.Role,
		Database:          cfg.About.Database,
		TemporalNamespace: cfg.About.TemporalNamespace,
		TasksReadOnly:     cfg.TasksReadOnly,
		ShellEnabled:      !cfg.ShellDisabled,
		APIKeyRequired:    len(cfg.APIKeys) > 0,
		JobsAvailable:     cfg.Jobs != nil,
	}
	if cfg.About.TemporalUIURL != "" {
		out.TemporalUIURL = &cfg.About.TemporalUIURL
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		encode(w, http.StatusOK, out)
	})
}
