package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/api"
	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/registry"
)

// shutdownGrace is how long in-flight requests get to finish on shutdown.
const shutdownGrace = 15 * time.Second

// run wires the service together and blocks until ctx ends or a component
// fails. It prints "chaptask: serving HTTP on http://ADDR" to stdout once the
// API accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)

	bdb, err := db.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer bdb.Close()
	if err := db.Migrate(ctx, bdb); err != nil {
		return err
	}

	reg := registry.New(registry.WithLogger(logger))
	if err := reg.Provide(bdb, &db.ArtifactStore{DB: bdb}); err != nil {
		return fmt.Errorf("provide injectables: %w", err)
	}
	if err := registerExampleFunctions(reg); err != nil {
		return fmt.Errorf("register example functions: %w", err)
	}
	if err := prepareTasks(ctx, cfg, bdb, reg, logger); err != nil {
		return err
	}

	if !cfg.runsAPI() {
		<-ctx.Done()
		return nil
	}
	handler := api.NewServer(api.Config{DB: bdb, Registry: reg, Logger: logger})
	return serveHTTP(ctx, cfg.HTTPAddr, handler, logger, stdout)
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// prepareTasks seeds the example tasks into an empty database and disables
// function tasks whose function is not registered.
func prepareTasks(ctx context.Context, cfg config, bdb *bun.DB, reg *registry.Registry, logger *slog.Logger) error {
	if cfg.SeedExamples {
		n, err := db.SeedTasks(ctx, bdb, exampleTasks())
		if err != nil {
			return err
		}
		if n > 0 {
			logger.Info("seeded example tasks", "count", n)
		}
	}
	orphans, err := db.DisableOrphanTasks(ctx, bdb, reg.Has)
	if err != nil {
		return err
	}
	if len(orphans) > 0 {
		ids := make([]string, len(orphans))
		names := make([]string, len(orphans))
		for i, t := range orphans {
			ids[i], names[i] = t.ID, t.Command
		}
		logger.Warn("disabled orphaned function tasks: their functions are not registered",
			"count", len(orphans), "task_ids", ids, "commands", names)
	}
	return nil
}

// serveHTTP serves handler on addr until ctx ends, then lets in-flight
// requests finish.
func serveHTTP(ctx context.Context, addr string, handler http.Handler, logger *slog.Logger, stdout io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// In-flight requests outlive the signal; Shutdown waits for them.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "chaptask: serving HTTP on http://%s\n", ln.Addr())
	logger.Info("serving HTTP", "addr", ln.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down HTTP")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shut down HTTP: %w", err)
	}
	return nil
}
