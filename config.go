package chaptask

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/chaptask/chaptask/db"
)

// Roles a process can play.
const (
	roleAll    = "all"
	roleAPI    = "api"
	roleWorker = "worker"
)

// config is every setting of the binary. Each has an environment variable
// and a flag; the flag wins.
type config struct {
	HTTPAddr             string
	DataDir              string
	DatabaseURL          string
	LogLevel             slog.Level
	LogFormat            string
	Role                 string
	SeedExamples         bool
	TemporalAddress      string
	TemporalNamespace    string
	EmbeddedTemporalAddr string
	EmbeddedUIAddr       string
	TaskQueue            string
	MaxConcurrency       int
	MaxOutputBytes       int64
	PprofAddr            string
	MetricsAddr          string
	EmbeddedRetention    time.Duration
	// APIKeys come from CHAPTASK_API_KEYS and CHAPTASK_API_KEYS_FILE; they
	// are never printed.
	APIKeys       []string
	APIKeysFile   string
	TasksReadOnly bool
	TasksFile     string
	ShellEnabled  bool
	// DBTimeout bounds each database call of a request and each network
	// read or write to PostgreSQL.
	DBTimeout time.Duration
	// LocalRunMax is the longest last run of a shell task after which its
	// next jobs still run their step inside the workflow task; 0 never.
	LocalRunMax time.Duration
	// ArtifactRetention, when positive, removes artifacts older than it.
	ArtifactRetention time.Duration
	// MinFreeBytes is the free space of the data directory below which
	// /health reports storage unhealthy; 0 turns the check off.
	MinFreeBytes int64
	// TemporalUIURL and ConsoleURL are the addresses people open: the
	// console links to the first, the Temporal Web UI to the second.
	TemporalUIURL string
	ConsoleURL    string
	// MaxConnections caps the HTTP API's open connections; ReadTimeout
	// bounds reading one request.
	MaxConnections int
	ReadTimeout    time.Duration
	// EmbeddedUIOpen serves the embedded Web UI although API keys are set.
	EmbeddedUIOpen bool
	// RunAs is the user (name or uid, optionally :group) shell commands
	// run as; empty runs them as the service's user.
	RunAs string
	// TemporalCompression is "none" or "gzip": how requests to an external
	// Temporal server are compressed.
	TemporalCompression string
}

// maxLocalRunMax bounds CHAPTASK_LOCAL_RUN_MAX: a local run step longer
// than the workflow task's heartbeat (8 s) costs more than a regular one,
// and a cancel from Temporal's tools waits for that heartbeat.
const maxLocalRunMax = 5 * time.Second

func (c config) runsAPI() bool    { return c.Role == roleAll || c.Role == roleAPI }
func (c config) runsWorker() bool { return c.Role == roleAll || c.Role == roleWorker }

// parseConfig reads the environment through getenv, then the flags in args.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env := func(name, fallback string) string {
		if v, ok := lookup(getenv, name); ok {
			return v
		}
		return fallback
	}
	var c config
	var logLevel, seed, maxConc, maxOut, retention, readOnly, shell string
	var dbTimeout, artifactRetention, minFree, localRunMax string
	var maxConns, readTimeout, uiOpen string
	name := "chaptask"
	if len(args) > 0 {
		name = args[0]
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.HTTPAddr, "http-addr", env("CHAPTASK_HTTP_ADDR", "127.0.0.1:8000"), "HTTP API listen address (CHAPTASK_HTTP_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", env("CHAPTASK_DATA_DIR", "./data"), "directory for the SQLite database and the embedded Temporal server (CHAPTASK_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL", ""), "postgres://… URL; empty uses SQLite in the data directory (DATABASE_URL)")
	fs.StringVar(&logLevel, "log-level", env("CHAPTASK_LOG_LEVEL", "info"), "debug, info, warn or error (CHAPTASK_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("CHAPTASK_LOG_FORMAT", "text"), "text or json (CHAPTASK_LOG_FORMAT)")
	fs.StringVar(&c.Role, "role", env("CHAPTASK_ROLE", roleAll), "all, api or worker (CHAPTASK_ROLE)")
	fs.StringVar(&seed, "seed-examples", env("CHAPTASK_SEED_EXAMPLES", "true"), "seed the example tasks into an empty database (CHAPTASK_SEED_EXAMPLES)")
	fs.StringVar(&c.TemporalAddress, "temporal-address", env("TEMPORAL_ADDRESS", ""), "host:port of a Temporal frontend; empty starts an embedded server (TEMPORAL_ADDRESS)")
	fs.StringVar(&c.TemporalNamespace, "temporal-namespace", env("TEMPORAL_NAMESPACE", "default"), "Temporal namespace (TEMPORAL_NAMESPACE)")
	fs.StringVar(&c.TemporalCompression, "temporal-compression", env("CHAPTASK_TEMPORAL_COMPRESSION", "none"), "none or gzip: compression of requests to an external Temporal server; gzip only pays off over a slow link (CHAPTASK_TEMPORAL_COMPRESSION)")
	fs.StringVar(&c.EmbeddedTemporalAddr, "embedded-temporal-addr", env("CHAPTASK_EMBEDDED_TEMPORAL_ADDR", "127.0.0.1:7233"), "gRPC address of the embedded Temporal server (CHAPTASK_EMBEDDED_TEMPORAL_ADDR)")
	fs.StringVar(&c.EmbeddedUIAddr, "embedded-ui-addr", env("CHAPTASK_EMBEDDED_UI_ADDR", "127.0.0.1:8233"), "Temporal Web UI address of the embedded server; empty disables it (CHAPTASK_EMBEDDED_UI_ADDR)")
	fs.StringVar(&retention, "embedded-retention", env("CHAPTASK_EMBEDDED_RETENTION", "720h"), "how long the embedded server keeps finished jobs (CHAPTASK_EMBEDDED_RETENTION)")
	fs.StringVar(&c.TaskQueue, "task-queue", env("CHAPTASK_TASK_QUEUE", "chaptask"), "Temporal task queue of jobs (CHAPTASK_TASK_QUEUE)")
	fs.StringVar(&maxConc, "max-concurrency", env("CHAPTASK_MAX_CONCURRENCY", strconv.Itoa(defaultMaxConcurrency())), "jobs run at once per worker (CHAPTASK_MAX_CONCURRENCY)")
	fs.StringVar(&maxOut, "max-output-bytes", env("CHAPTASK_MAX_OUTPUT_BYTES", strconv.Itoa(4<<20)), "bytes of stdout and of stderr kept per job (CHAPTASK_MAX_OUTPUT_BYTES)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", env("CHAPTASK_PPROF_ADDR", ""), "serve net/http/pprof on this address for profiling; empty disables it (CHAPTASK_PPROF_ADDR)")
	// No flag for the keys themselves: a flag would show them in every
	// process listing.
	fs.StringVar(&c.APIKeysFile, "api-keys-file", env("CHAPTASK_API_KEYS_FILE", ""), "file of API keys, one per line or comma-separated, e.g. a Docker secret (CHAPTASK_API_KEYS_FILE)")
	fs.StringVar(&readOnly, "tasks-read-only", env("CHAPTASK_TASKS_READ_ONLY", "false"), "refuse task create, replace and delete through the API (CHAPTASK_TASKS_READ_ONLY)")
	fs.StringVar(&c.TasksFile, "tasks-file", env("CHAPTASK_TASKS_FILE", ""), "YAML or JSON file of tasks applied by id at start-up (CHAPTASK_TASKS_FILE)")
	fs.StringVar(&shell, "shell-enabled", env("CHAPTASK_SHELL_ENABLED", "true"), "allow shell tasks; false runs registered functions only (CHAPTASK_SHELL_ENABLED)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("CHAPTASK_METRICS_ADDR", ""), "also serve /metrics on this address, e.g. for worker-only processes; empty disables it (CHAPTASK_METRICS_ADDR)")
	fs.StringVar(&dbTimeout, "db-timeout", env("CHAPTASK_DB_TIMEOUT", db.DefaultCallTimeout.String()), "deadline of each database call a request makes, and of each read or write to PostgreSQL (CHAPTASK_DB_TIMEOUT)")
	fs.StringVar(&localRunMax, "local-run-max", env("CHAPTASK_LOCAL_RUN_MAX", "1s"), "a shell task whose last run took at most this long runs its next jobs' step inside the workflow task (a local activity); 0 never (CHAPTASK_LOCAL_RUN_MAX)")
	fs.StringVar(&artifactRetention, "artifact-retention", env("CHAPTASK_ARTIFACT_RETENTION", "off"), "remove artifacts (and job logs) older than this, e.g. 2160h; off keeps them (CHAPTASK_ARTIFACT_RETENTION)")
	fs.StringVar(&minFree, "min-free-space", env("CHAPTASK_MIN_FREE_SPACE", "256MiB"), "free space of the data directory below which /health reports storage unhealthy; 0 turns the check off (CHAPTASK_MIN_FREE_SPACE)")
	fs.StringVar(&c.TemporalUIURL, "temporal-ui-url", env("CHAPTASK_TEMPORAL_UI_URL", ""), "Temporal Web UI address the console links to; empty uses the embedded UI's (CHAPTASK_TEMPORAL_UI_URL)")
	fs.StringVar(&c.ConsoleURL, "console-url", env("CHAPTASK_CONSOLE_URL", ""), "public address of this console, linked from each job in the Temporal Web UI; empty uses the HTTP address when it names a host (CHAPTASK_CONSOLE_URL)")
	fs.StringVar(&maxConns, "http-max-connections", env("CHAPTASK_HTTP_MAX_CONNECTIONS", "1024"), "open HTTP connections at most; slow readers make room first, and at most half the process's file descriptor limit is used (CHAPTASK_HTTP_MAX_CONNECTIONS)")
	fs.StringVar(&readTimeout, "http-read-timeout", env("CHAPTASK_HTTP_READ_TIMEOUT", "30s"), "time a client has to send a whole request body; streams are exempt (CHAPTASK_HTTP_READ_TIMEOUT)")
	fs.StringVar(&uiOpen, "embedded-ui-open", env("CHAPTASK_EMBEDDED_UI_OPEN", "false"), "serve the embedded Web UI even with API keys set: it has no login and acts with the first key (CHAPTASK_EMBEDDED_UI_OPEN)")
	fs.StringVar(&c.RunAs, "run-as", env("CHAPTASK_RUN_AS", ""), "user[:group] shell commands run as, e.g. nobody; needs a root service (CHAPTASK_RUN_AS)")
	if err := fs.Parse(args[min(1, len(args)):]); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}

	var errs []error
	if err := c.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		errs = append(errs, fmt.Errorf("log level %q: want debug, info, warn or error", logLevel))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log format %q: want text or json", c.LogFormat))
	}
	if c.Role != roleAll && c.Role != roleAPI && c.Role != roleWorker {
		errs = append(errs, fmt.Errorf("role %q: want all, api or worker", c.Role))
	}
	var err error
	if c.SeedExamples, err = strconv.ParseBool(seed); err != nil {
		errs = append(errs, fmt.Errorf("seed examples %q: want true or false", seed))
	}
	if c.MaxConcurrency, err = strconv.Atoi(maxConc); err != nil || c.MaxConcurrency < 1 {
		errs = append(errs, fmt.Errorf("max concurrency %q: want a positive integer", maxConc))
	}
	if c.MaxOutputBytes, err = strconv.ParseInt(maxOut, 10, 64); err != nil || c.MaxOutputBytes < 1024 {
		errs = append(errs, fmt.Errorf("max output bytes %q: want an integer of at least 1024", maxOut))
	}
	if c.EmbeddedRetention, err = time.ParseDuration(retention); err != nil || c.EmbeddedRetention < time.Hour {
		errs = append(errs, fmt.Errorf("embedded retention %q: want a duration of at least 1h, e.g. 720h", retention))
	}
	if c.TasksReadOnly, err = strconv.ParseBool(readOnly); err != nil {
		errs = append(errs, fmt.Errorf("tasks read-only %q: want true or false", readOnly))
	}
	if c.ShellEnabled, err = strconv.ParseBool(shell); err != nil {
		errs = append(errs, fmt.Errorf("shell enabled %q: want true or false", shell))
	}
	if c.DBTimeout, err = time.ParseDuration(dbTimeout); err != nil || c.DBTimeout < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("db timeout %q: want a duration of at least 100ms, e.g. 5s", dbTimeout))
	}
	if c.LocalRunMax, err = time.ParseDuration(localRunMax); err != nil || c.LocalRunMax < 0 || c.LocalRunMax > maxLocalRunMax {
		errs = append(errs, fmt.Errorf("local run max %q: want a duration from 0 to %s, e.g. 1s", localRunMax, maxLocalRunMax))
	}
	if r := strings.ToLower(artifactRetention); r != "off" && r != "0" {
		if c.ArtifactRetention, err = time.ParseDuration(artifactRetention); err != nil || c.ArtifactRetention < time.Minute {
			errs = append(errs, fmt.Errorf("artifact retention %q: want off or a duration of at least 1m, e.g. 2160h", artifactRetention))
		}
	}
	if c.MinFreeBytes, err = parseBytes(minFree); err != nil {
		errs = append(errs, fmt.Errorf("min free space %q: want a size such as 256MiB, 1GiB or 0", minFree))
	}
	for _, u := range []struct{ name, value string }{{"temporal UI URL", c.TemporalUIURL}, {"console URL", c.ConsoleURL}} {
		if u.value != "" && !validBaseURL(u.value) {
			errs = append(errs, fmt.Errorf("%s %q: want an http:// or https:// URL", u.name, u.value))
		}
	}
	if c.MaxConnections, err = strconv.Atoi(maxConns); err != nil || c.MaxConnections < 16 {
		errs = append(errs, fmt.Errorf("HTTP max connections %q: want an integer of at least 16", maxConns))
	}
	if c.ReadTimeout, err = time.ParseDuration(readTimeout); err != nil || c.ReadTimeout < time.Second {
		errs = append(errs, fmt.Errorf("HTTP read timeout %q: want a duration of at least 1s, e.g. 30s", readTimeout))
	}
	if c.EmbeddedUIOpen, err = strconv.ParseBool(uiOpen); err != nil {
		errs = append(errs, fmt.Errorf("embedded UI open %q: want true or false", uiOpen))
	}
	c.APIKeys = splitKeys(getenv("CHAPTASK_API_KEYS"))
	if c.TemporalNamespace == "" {
		errs = append(errs, errors.New("temporal namespace must not be empty"))
	}
	if c.TemporalCompression != "none" && c.TemporalCompression != "gzip" {
		errs = append(errs, fmt.Errorf("temporal compression %q: want none or gzip", c.TemporalCompression))
	}
	if c.TaskQueue == "" {
		errs = append(errs, errors.New("task queue must not be empty"))
	}
	return c, errors.Join(errs...)
}

// splitKeys reads API keys separated by commas or newlines, skipping blanks
// and "#" comment lines.
func splitKeys(s string) []string {
	var keys []string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, k := range strings.Split(line, ",") {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// parseBytes reads a size: a number of bytes with an optional KiB, MiB or
// GiB suffix (KB, MB and GB are read as the same powers of two).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffixes []string
		shift    uint
	}{{[]string{"GiB", "GB", "G"}, 30}, {[]string{"MiB", "MB", "M"}, 20}, {[]string{"KiB", "KB", "K"}, 10}, {[]string{"B"}, 0}}
	for _, u := range units {
		for _, suffix := range u.suffixes {
			if num, ok := strings.CutSuffix(s, suffix); ok {
				n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
				if err != nil || n < 0 || n > 1<<(62-u.shift) {
					return 0, errors.New("bad size")
				}
				return n << u.shift, nil
			}
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("bad size")
	}
	return n, nil
}

// lookup reports a variable's value; unset and empty are alike.
func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// uiDisabled reports whether the embedded UI address turns the UI off.
func uiDisabled(addr string) bool {
	switch strings.ToLower(addr) {
	case "", "off", "none", "false", "0":
		return true
	}
	return false
}

// minDefaultConcurrency is chapkit's default max_concurrency: users of its
// guide expect three jobs to run at once even on a two-core machine.
const minDefaultConcurrency = 3

// defaultMaxConcurrency is the number of CPUs, but never below chapkit's 3.
func defaultMaxConcurrency() int {
	return max(minDefaultConcurrency, runtime.NumCPU())
}

// validBaseURL reports whether s is an absolute http(s) URL with a host.
func validBaseURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// consoleURL is where people reach this process's console: the configured
// address, else the HTTP listen address when it names a host and port a
// browser can open; "" when unknown.
func (c config) consoleURL() string {
	if c.ConsoleURL != "" {
		return strings.TrimRight(c.ConsoleURL, "/")
	}
	host, port, err := net.SplitHostPort(c.HTTPAddr)
	if ip := net.ParseIP(host); err != nil || host == "" || port == "0" || ip != nil && ip.IsUnspecified() {
		return ""
	}
	return "http://" + c.HTTPAddr
}
