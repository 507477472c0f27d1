package chaptask

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/chaptask/chaptask/activities"
	"github.com/chaptask/chaptask/api"
	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/metrics"
	"github.com/chaptask/chaptask/registry"
	"github.com/chaptask/chaptask/workflows"
)

// shutdownGrace is how long in-flight requests get to finish on shutdown.
const shutdownGrace = 15 * time.Second

// heartbeatThrottle caps how long the SDK may batch heartbeats: cancellation
// reaches a running command within about this long.
const heartbeatThrottle = time.Second

// Options is what a program hands to [Run] besides the context.
type Options struct {
	// Args are the command-line arguments, program name first; flags in
	// them override the environment.
	Args []string
	// Getenv reads the environment; nil reads none, so every setting has
	// its default. Programs pass os.Getenv.
	Getenv func(string) string
	// Stdout receives the few lines a user looks for (addresses served);
	// Stderr the logs. Nil means os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// Register adds the program's Go functions (and injectable values) to
	// the registry before the worker starts.
	Register func(*registry.Registry) error
	// SeedTasks are created in an empty database when
	// CHAPTASK_SEED_EXAMPLES is true (the default).
	SeedTasks []db.Task
	// EmbeddedTemporal starts a Temporal server in this process when
	// TEMPORAL_ADDRESS is empty (cmd/chaptask passes inprocess.Start). Nil
	// keeps the server out of the program's binary; Run then needs
	// TEMPORAL_ADDRESS.
	EmbeddedTemporal StartEmbeddedFunc
	// ArtifactHierarchy labels artifact levels in $tree and $expand; the
	// zero value means api.DefaultArtifactHierarchy.
	ArtifactHierarchy api.ArtifactHierarchy
}

// Run wires the service together and blocks until ctx ends or a component
// fails. It prints "chaptask: serving HTTP on http://ADDR" to Stdout once the
// API accepts connections.
func Run(ctx context.Context, opts Options) error {
	getenv, stdout, stderr := opts.Getenv, opts.Stdout, opts.Stderr
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	cfg, err := parseConfig(opts.Args, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.TemporalAddress == "" && opts.EmbeddedTemporal == nil {
		return errNoTemporal
	}
	if cfg.APIKeysFile != "" {
		raw, err := os.ReadFile(cfg.APIKeysFile)
		if err != nil {
			return fmt.Errorf("read API keys file: %w", err)
		}
		keys := splitKeys(string(raw))
		if len(keys) == 0 {
			// An empty secret must not quietly open the API.
			return fmt.Errorf("API keys file %s holds no keys", cfg.APIKeysFile)
		}
		cfg.APIKeys = append(cfg.APIKeys, keys...)
	}
	logger := newLogger(cfg, stderr)
	runAs, err := protectSecrets(cfg, opts.Args, logger)
	if err != nil {
		return err
	}
	if cfg.PprofAddr != "" {
		go servePprof(cfg.PprofAddr, cfg.APIKeys, logger)
	}

	bdb, err := db.Open(ctx, cfg.DatabaseURL, cfg.DataDir, db.WithReadWriteTimeout(cfg.DBTimeout))
	if err != nil {
		return err
	}
	defer bdb.Close()
	if err := db.Migrate(ctx, bdb); err != nil {
		return err
	}

	tel, err := startTelemetry(cfg, logger)
	if err != nil {
		return err
	}
	defer tel.stop()

	tc, embeddedUI, stopTemporal, err := connectTemporal(ctx, cfg, opts.EmbeddedTemporal, tel.sdk, logger, stdout)
	if err != nil {
		return err
	}
	defer stopTemporal()

	reg := registry.New(registry.WithLogger(logger))
	if err := reg.Provide(bdb, &db.ArtifactStore{DB: bdb}, tc); err != nil {
		return fmt.Errorf("provide injectables: %w", err)
	}
	// The worker passes each call its own: see newWorker.
	if err := registry.Declare[*jobs.Children](reg); err != nil {
		return fmt.Errorf("declare injectables: %w", err)
	}
	if opts.Register != nil {
		if err := opts.Register(reg); err != nil {
			return fmt.Errorf("register functions: %w", err)
		}
	}
	if err := applyTaskFile(ctx, cfg, bdb, logger); err != nil {
		return err
	}
	if err := prepareTasks(ctx, cfg, bdb, reg, opts.SeedTasks, logger); err != nil {
		return err
	}

	var localRuns *jobs.LocalRuns
	if cfg.runsWorker() {
		localRuns = jobs.NewLocalRuns()
		w := newWorker(cfg, tc, bdb, reg, tel.metrics, localRuns, logger, getenv, runAs)
		if err := w.Start(); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		defer w.Stop()
		logger.Info("worker started", "task_queue", cfg.TaskQueue, "max_concurrency", cfg.MaxConcurrency)
	}

	if !cfg.runsAPI() {
		<-ctx.Done()
		return nil
	}
	if len(cfg.APIKeys) > 0 {
		logger.Info("API requires an X-API-Key", "keys", len(cfg.APIKeys))
	} else {
		logger.Warn("no API keys (CHAPTASK_API_KEYS): the HTTP API is open to anyone who can reach " + cfg.HTTPAddr)
	}
	js := jobs.New(tc, bdb, cfg.TemporalNamespace, cfg.TaskQueue, slog.New(api.LogHandler(logger.Handler())))
	js.FollowLocalRuns(localRuns)
	js.RunShortTasksLocally(cfg.LocalRunMax)
	if checks := storageChecks(cfg); cfg.TemporalAddress == "" && len(checks) > 0 {
		js.WatchTemporalDisk(func() error { return checks[0].Check(ctx) })
	}
	if cfg.ArtifactRetention > 0 {
		go runRetention(ctx, bdb, cfg.ArtifactRetention, js, tel.metrics, logger)
	}
	js.LinkConsole(cfg.consoleURL())
	handler := api.NewServer(api.Config{
		DB:            bdb,
		Jobs:          js,
		Registry:      reg,
		Logger:        logger,
		Metrics:       tel.metrics,
		Gatherer:      tel.registry,
		APIKeys:       cfg.APIKeys,
		TasksReadOnly: cfg.TasksReadOnly,
		ShellDisabled: !cfg.ShellEnabled,
		About:         about(cfg, embeddedUI),
		HealthChecks: append([]api.HealthCheck{{
			Name: "temporal",
			Check: func(ctx context.Context) error {
				_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
				return err
			},
		}}, storageChecks(cfg)...),
		DBTimeout:         cfg.DBTimeout,
		ArtifactHierarchy: opts.ArtifactHierarchy,
	})
	limits := api.ConnLimits{MaxConns: connectionCap(cfg.MaxConnections, logger), ReadTimeout: cfg.ReadTimeout}
	return serveHTTP(ctx, cfg.HTTPAddr, handler, limits, logger, stdout)
}

// storageChecks watches the data directory when something stores data in
// it: SQLite, or the embedded Temporal server.
func storageChecks(cfg config) []api.HealthCheck {
	if cfg.MinFreeBytes <= 0 || (cfg.DatabaseURL != "" && cfg.TemporalAddress != "") {
		return nil
	}
	return []api.HealthCheck{api.StorageCheck(cfg.DataDir, cfg.MinFreeBytes)}
}

// about describes this process for the console's overview.
func about(cfg config, embeddedUI string) api.About {
	a := api.About{
		Version:           "(devel)",
		Mode:              "cluster",
		Role:              cfg.Role,
		Database:          "postgresql",
		TemporalNamespace: cfg.TemporalNamespace,
		TemporalUIURL:     strings.TrimRight(cfg.TemporalUIURL, "/"),
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		a.Version = info.Main.Version
	}
	if cfg.TemporalAddress == "" {
		a.Mode = "embedded"
	}
	if cfg.DatabaseURL == "" {
		a.Database = "sqlite"
	}
	if a.TemporalUIURL == "" && embeddedUI != "" {
		a.TemporalUIURL = "http://" + embeddedUI
	}
	return a
}

// connectTemporal dials TEMPORAL_ADDRESS, or starts the embedded server
// first when it is unset, and reports the embedded Web UI's address ("" if
// none). The returned func releases both.
func connectTemporal(ctx context.Context, cfg config, startEmbedded StartEmbeddedFunc, sdkMetrics client.MetricsHandler, logger *slog.Logger, stdout io.Writer) (client.Client, string, func(), error) {
	addr, uiAddr := cfg.TemporalAddress, ""
	stopServer := func() {}
	embeddedOpts := func(o client.Options) client.Options { return o }
	if addr == "" {
		uiAddr = cfg.EmbeddedUIAddr
		if uiDisabled(uiAddr) {
			uiAddr = ""
		}
		if uiAddr != "" && len(cfg.APIKeys) > 0 && !cfg.EmbeddedUIOpen {
			// The UI has no login of its own: serving it would hand the
			// keys' powers to anyone who can reach its address.
			logger.Info("embedded Temporal Web UI is off because API keys are set; CHAPTASK_EMBEDDED_UI_OPEN=true serves it without a login")
			uiAddr = ""
		}
		srv, err := startEmbedded(ctx, EmbeddedConfig{
			APIKeys:          cfg.APIKeys,
			DataDir:          filepath.Join(cfg.DataDir, "temporal"),
			FrontendAddr:     cfg.EmbeddedTemporalAddr,
			UIAddr:           uiAddr,
			Namespace:        cfg.TemporalNamespace,
			Retention:        cfg.EmbeddedRetention,
			SearchAttributes: jobs.SearchAttributes,
			Logger:           logger.With("component", "temporal-server"),
		})
		if err != nil {
			return nil, "", nil, fmt.Errorf("start embedded Temporal server: %w", err)
		}
		stopServer = func() {
			if err := srv.Stop(); err != nil {
				logger.Error("stop embedded Temporal server", "error", err)
			}
		}
		addr, uiAddr = srv.FrontendAddr(), srv.UIAddr()
		fmt.Fprintf(stdout, "chaptask: embedded Temporal frontend on %s\n", addr)
		if ui := srv.UIAddr(); ui != "" {
			fmt.Fprintf(stdout, "chaptask: Temporal Web UI on http://%s\n", ui)
		}
		logger.Info("embedded Temporal server started", "frontend", addr, "ui", srv.UIAddr())
		switch {
		case len(cfg.APIKeys) == 0:
			logger.Warn("no API keys (CHAPTASK_API_KEYS): the embedded Temporal frontend and Web UI are open to anyone who can reach them",
				"frontend", addr, "ui", srv.UIAddr())
		case srv.UIAddr() != "":
			logger.Warn("the embedded Temporal Web UI has no login and acts with the first API key: anyone who can reach it can run and cancel jobs",
				"ui", srv.UIAddr())
		}
		embeddedOpts = srv.ClientOptions
	}

	opts := embeddedOpts(client.Options{
		HostPort:       addr,
		Namespace:      cfg.TemporalNamespace,
		Logger:         sdklog.NewStructuredLogger(slog.New(quietCancels{logger.Handler()}).With("component", "temporal-sdk")),
		MetricsHandler: sdkMetrics,
	})
	if cfg.TemporalAddress == "" || cfg.TemporalCompression == "none" {
		// Compressing loopback traffic only burns CPU (about a tenth of it
		// under load); on a LAN too, chaptask's requests and answers are
		// small protobufs (the SDK's default is gzip).
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	tc, err := client.DialContext(ctx, opts)
	if err != nil {
		stopServer()
		return nil, "", nil, fmt.Errorf("connect to Temporal at %s: %w", addr, err)
	}
	if cfg.TemporalAddress != "" {
		if err := jobs.EnsureSearchAttributes(ctx, tc, cfg.TemporalNamespace); err != nil {
			// Listing and filtering by task still work through the memo-less
			// paths; the operator can add them by hand.
			logger.Warn("could not register chaptask search attributes", "error", err)
		}
	}
	return tc, uiAddr, func() { tc.Close(); stopServer() }, nil
}

func newWorker(cfg config, tc client.Client, bdb *bun.DB, reg *registry.Registry, m *metrics.Metrics, local *jobs.LocalRuns, logger *slog.Logger, getenv func(string) string, runAs *activities.RunAs) worker.Worker {
	slots := newRunSlots(cfg.MaxConcurrency)
	local.SetRunGate(slots)
	w := worker.New(tc, cfg.TaskQueue, worker.Options{
		Identity:                         local.Identity(),
		Interceptors:                     []interceptor.WorkerInterceptor{local.WorkerInterceptor()},
		Tuner:                            workerTuner(slots),
		MaxConcurrentActivityTaskPollers: activityPollers(cfg.MaxConcurrency),
		MaxConcurrentWorkflowTaskPollers: workflowTaskPollers,
		DefaultHeartbeatThrottleInterval: heartbeatThrottle,
		MaxHeartbeatThrottleInterval:     heartbeatThrottle,
		WorkerStopTimeout:                10 * time.Second,
	})
	w.RegisterWorkflowWithOptions(workflows.ExecuteTask, workflow.RegisterOptions{Name: workflows.ExecuteTaskWorkflow})
	acts := &activities.Activities{
		DB:             bdb,
		Registry:       reg,
		Logger:         logger,
		ShellEnv:       activities.ShellEnv(getenv),
		RunAs:          runAs,
		MaxOutputBytes: cfg.MaxOutputBytes,
		ShellDisabled:  !cfg.ShellEnabled,
		Metrics:        m,
		JobInjectables: childJobs(w, cfg, tc, bdb, local, slots, logger),
	}
	acts.Register(w)
	return w
}

// activityPollers is how many activity polls a worker keeps open. A poll
// holds one of the worker's MaxConcurrency slots while it waits, and a run
// step is dispatched eagerly, in the answer to the workflow task that
// schedules it, only when a slot is free: with the SDK's two pollers and
// two slots it never was, and every run step took a trip through matching.
func activityPollers(maxConcurrency int) int {
	return min(2, max(1, maxConcurrency-1))
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// applyTaskFile makes the tasks of CHAPTASK_TASKS_FILE exist as written.
// A file that does not validate stops the start: serving a half-applied
// catalogue would be worse.
func applyTaskFile(ctx context.Context, cfg config, bdb *bun.DB, logger *slog.Logger) error {
	if cfg.TasksFile == "" {
		return nil
	}
	raw, err := os.ReadFile(cfg.TasksFile)
	if err != nil {
		return fmt.Errorf("read tasks file: %w", err)
	}
	tasks, err := api.DecodeTaskFile(raw, !cfg.ShellEnabled)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.TasksFile, err)
	}
	res, err := db.ApplyTasks(ctx, bdb, tasks)
	if err != nil {
		return err
	}
	logger.Info("applied tasks file", "file", cfg.TasksFile,
		"created", res.Created, "updated", res.Updated, "unchanged", res.Unchanged)
	return nil
}

// prepareTasks seeds the given tasks into an empty database and disables
// function tasks whose function is not registered.
func prepareTasks(ctx context.Context, cfg config, bdb *bun.DB, reg *registry.Registry, seed []db.Task, logger *slog.Logger) error {
	if cfg.SeedExamples && len(seed) > 0 {
		n, err := db.SeedTasks(ctx, bdb, seed)
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
	logOrphans(logger, orphans)
	return nil
}

// logOrphans reports disabled orphan tasks in chapkit's three parts, so what
// watches chapkit's log finds the same lines: a warning with the count, ids
// and commands, one line per task, and the total.
func logOrphans(logger *slog.Logger, orphans []db.Task) {
	if len(orphans) == 0 {
		return
	}
	ids := make([]string, len(orphans))
	names := make([]string, len(orphans))
	for i, t := range orphans {
		ids[i], names[i] = t.ID, t.Command
	}
	logger.Warn("Found orphaned Python tasks - disabling them", "count", len(orphans), "task_ids", ids, "commands", names)
	for _, t := range orphans {
		logger.Info(fmt.Sprintf("Disabling orphaned task %s: function '%s' not found in registry", t.ID, t.Command),
			"task_id", t.ID, "command", t.Command)
	}
	logger.Warn(fmt.Sprintf("Disabled %d orphaned Python task(s)", len(orphans)), "count", len(orphans))
}

// serveHTTP serves handler on addr until ctx ends, then lets in-flight
// requests finish.
func serveHTTP(ctx context.Context, addr string, handler http.Handler, limits api.ConnLimits, logger *slog.Logger, stdout io.Writer) error {
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
	ln = limits.Apply(srv, ln)
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

// servePprof exposes the profiler on its own listener, never on the API's,
// behind the API keys.
func servePprof(addr string, keys []string, logger *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: api.RequireAPIKey(keys, mux), ReadHeaderTimeout: 10 * time.Second}
	logger.Info("serving pprof", "addr", addr)
	if err := srv.ListenAndServe(); err != nil {
		logger.Error("pprof server stopped", "error", err)
	}
}
