package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/deploy"
)

// The production topology: a Temporal server built from the
// go.temporal.io/server module this repository pins, on PostgreSQL, with
// chaptask on PostgreSQL too, every process separate. It follows
// scripts/distributed.sh, in Go, so that the bench can read the server's
// CPU, its persistence metrics and the PostgreSQL backends' CPU.

const (
	// temporalReadyTimeout bounds the server's start and the namespace's
	// registration.
	temporalReadyTimeout = 2 * time.Minute
	// Connections of each of the server's two stores. The PostgreSQL
	// server may be shared, so they stay small; Temporal queues for a
	// connection instead of failing.
	temporalMaxConns = 10
)

// cluster is a running Temporal server on PostgreSQL and the databases
// the bench created for it and for chaptask.
type cluster struct {
	Frontend    string // host:port of the frontend
	MetricsURL  string // the server's Prometheus endpoint
	PprofAddr   string // the server's net/http/pprof address
	AppURL      string // chaptask's database
	Databases   []string
	proc        *process
	adminURL    string
	pgWatch     *pgBackends
	dynamicConf string
	// vacuum stands in for autovacuum when the server has it off; nil
	// otherwise.
	vacuum *vacuumStandIn
}

// startCluster builds the Temporal server and its SQL tool (cached between
// runs), creates the databases and schemas, starts the server and
// registers the namespace.
func startCluster(ctx context.Context, cfg config, dir string, environ []string, prog *progress) (c *cluster, err error) {
	c = &cluster{adminURL: cfg.DatabaseURL}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.stop())
			c = nil
		}
	}()
	prog.begin("building the Temporal server (cached after the first run)")
	bins, err := buildTemporal(ctx, dir, environ, prog)
	if err != nil {
		return c, err
	}

	base, err := url.Parse(cfg.DatabaseURL)
	if err != nil {
		return c, fmt.Errorf("parse -database-url: %w", err)
	}
	prefix := cfg.DBPrefix + "_" + strings.ToLower(db.NewID()[20:])
	names := map[string]string{"temporal": prefix + "_temporal", "visibility": prefix + "_visibility", "app": prefix + "_app"}
	prog.begin("creating databases %s_{temporal,visibility,app}", prefix)
	for _, role := range []string{"temporal", "visibility", "app"} {
		if err := adminExec(ctx, c.adminURL, "CREATE DATABASE "+names[role]); err != nil {
			return c, fmt.Errorf("create database %s: %w", names[role], err)
		}
		c.Databases = append(c.Databases, names[role])
	}
	c.AppURL = withDatabase(base, names["app"])
	c.pgWatch = &pgBackends{adminURL: c.adminURL, databases: c.Databases}

	host, port := base.Hostname(), base.Port()
	if port == "" {
		port = "5432"
	}
	user := base.User.Username()
	password, _ := base.User.Password()
	for _, store := range []struct{ db, dir string }{{names["temporal"], "temporal"}, {names["visibility"], "visibility"}} {
		for _, args := range [][]string{
			{"setup-schema", "-v", "0.0"},
			{"update-schema", "-d", filepath.Join(bins.schemaDir, store.dir, "versioned")},
		} {
			cmdArgs := []string{"--plugin", "postgres12", "--ep", host, "--port", port, "--user", user, "--db", store.db}
			if password != "" {
				cmdArgs = append(cmdArgs, "--password", password)
			}
			cmd := exec.CommandContext(ctx, bins.sqlTool, append(cmdArgs, args...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				return c, fmt.Errorf("temporal-sql-tool %s on %s: %w\n%s", args[0], store.db, err, out)
			}
		}
	}

	if !cfg.UntunedVisibility {
		if err := adminExec(ctx, withDatabase(base, names["visibility"]), deploy.VisibilityTuning); err != nil {
			return c, fmt.Errorf("tune the visibility table: %w", err)
		}
	}

	if c.vacuum, err = startVacuumStandIn(ctx, c.adminURL, base, c.Databases); err != nil {
		return c, err
	}

	ports, err := clusterPorts(cfg.PortBase)
	if err != nil {
		return c, err
	}
	c.Frontend = fmt.Sprintf("127.0.0.1:%d", ports[0])
	c.MetricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[9])
	c.PprofAddr = fmt.Sprintf("127.0.0.1:%d", ports[10])
	c.dynamicConf = cfg.DynamicConfig
	if c.dynamicConf == "" {
		c.dynamicConf = filepath.Join(dir, "dynamicconfig.yaml")
		if err := os.WriteFile(c.dynamicConf, []byte(temporalDefaultDynamicConfig), 0o600); err != nil {
			return c, err
		}
	} else if c.dynamicConf, err = filepath.Abs(c.dynamicConf); err != nil {
		return c, err
	}
	conf := filepath.Join(dir, "temporal.yaml")
	sqlStore := func(name string) string {
		s := fmt.Sprintf(`      sql:
        pluginName: postgres12
        databaseName: %s
        connectAddr: "%s:%s"
        connectProtocol: tcp
        user: %q
        maxConns: %d
        maxIdleConns: %d
        maxConnLifetime: 1h
`, name, host, port, user, temporalMaxConns, temporalMaxConns)
		if password != "" {
			s += fmt.Sprintf("        password: %q\n", password)
		}
		return s
	}
	yaml := fmt.Sprintf(`log:
  stdout: false
  level: warn
  outputFile: %q
persistence:
  numHistoryShards: %d
  defaultStore: default
  visibilityStore: visibility
  datastores:
    default:
%s    visibility:
%sglobal:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
  pprof:
    port: %d
  metrics:
    prometheus:
      timerType: histogram
      listenAddress: "127.0.0.1:%d"
services:
  frontend:
    rpc: {grpcPort: %d, membershipPort: %d, httpPort: %d, bindOnLocalHost: true}
  history:
    rpc: {grpcPort: %d, membershipPort: %d, bindOnLocalHost: true}
  matching:
    rpc: {grpcPort: %d, membershipPort: %d, bindOnLocalHost: true}
  worker:
    rpc: {grpcPort: %d, membershipPort: %d, bindOnLocalHost: true}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "%s"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: %q
  pollInterval: 10s
`, filepath.Join(dir, "temporal.log"), cfg.Shards, sqlStore(names["temporal"]), sqlStore(names["visibility"]),
		ports[10], ports[9],
		ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6], ports[7], ports[8],
		c.Frontend, c.dynamicConf)
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		return c, err
	}
	// The server's pprof is served only where the pprof port is set; the
	// bench's own flags say nothing about it, so it is on whenever the
	// cluster runs (one idle listener).
	prog.begin("starting the Temporal server (%d shards, dynamic config %s)", cfg.Shards, c.dynamicConf)
	c.proc, _, err = startProcessArgs("temporal", bins.server, []string{"--config-file", conf, "--allow-no-auth", "start"}, environ, prog)
	if err != nil {
		return c, err
	}
	reg := exec.CommandContext(ctx, bins.registerns, "-address", c.Frontend, "-namespace", "default", "-timeout", temporalReadyTimeout.String())
	if out, err := reg.CombinedOutput(); err != nil {
		return c, fmt.Errorf("register namespace: %w\n%s", err, out)
	}
	prog.logf("Temporal server serving on %s (metrics %s, pprof %s)", c.Frontend, c.MetricsURL, c.PprofAddr)
	return c, nil
}

// temporalDefaultDynamicConfig is what the server needs to start and
// nothing more: Temporal's defaults, the "before" of every tuning.
const temporalDefaultDynamicConfig = `limit.maxIDLength:
  - value: 255
    constraints: {}
`

// stop stops the server and drops the databases.
func (c *cluster) stop() error {
	var errs []error
	if c.proc != nil {
		if err := c.proc.stop(); err != nil {
			errs = append(errs, err)
		}
		c.proc = nil
	}
	if c.vacuum != nil {
		c.vacuum.close()
		c.vacuum = nil
	}
	for _, name := range c.Databases {
		if err := adminExec(context.Background(), c.adminURL, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			errs = append(errs, fmt.Errorf("drop database %s: %w", name, err))
		}
	}
	c.Databases = nil
	return errors.Join(errs...)
}

// alive returns an error if the server has exited.
func (c *cluster) alive() error {
	select {
	case <-c.proc.exited:
		return fmt.Errorf("the Temporal server exited early: %v", c.proc.err)
	default:
		return nil
	}
}

// temporalBinaries are the programs the production topology runs.
type temporalBinaries struct {
	server, sqlTool, registerns, schemaDir string
}

// buildTemporal builds the Temporal server and SQL tool in a scratch
// module that copies go.mod and go.sum (their commands need modules
// chaptask does not), so every shared dependency keeps chaptask's version;
// the module is cached by the hash of go.mod and go.sum.
func buildTemporal(ctx context.Context, dir string, environ []string, prog *progress) (temporalBinaries, error) {
	var bins temporalBinaries
	gomod, err := goOutput(ctx, "", environ, "env", "GOMOD")
	if err != nil || gomod == "" || gomod == os.DevNull {
		return bins, fmt.Errorf("-production must run inside the chaptask module (go env GOMOD: %q, %v)", gomod, err)
	}
	root := filepath.Dir(gomod)
	modBytes, err := os.ReadFile(gomod)
	if err != nil {
		return bins, err
	}
	sumBytes, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		return bins, err
	}
	sum := sha256.Sum256(append(modBytes, sumBytes...))
	cache, err := os.UserCacheDir()
	if err != nil {
		return bins, err
	}
	cache = filepath.Join(cache, "chaptask-bench")
	tools := filepath.Join(cache, "tools-"+hex.EncodeToString(sum[:])[:16])
	version, err := goOutput(ctx, root, environ, "list", "-m", "-f", "{{.Version}}", "go.temporal.io/server")
	if err != nil {
		return bins, err
	}
	if _, err := os.Stat(filepath.Join(tools, ".ready")); err != nil {
		prog.logf("preparing a module for the Temporal %s commands in %s", version, tools)
		if err := os.RemoveAll(tools); err != nil {
			return bins, err
		}
		if err := os.MkdirAll(tools, 0o755); err != nil {
			return bins, err
		}
		lines := strings.SplitN(string(modBytes), "\n", 2)
		lines[0] = "module chaptask-bench-tools"
		if err := os.WriteFile(filepath.Join(tools, "go.mod"), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			return bins, err
		}
		if err := os.WriteFile(filepath.Join(tools, "go.sum"), sumBytes, 0o644); err != nil {
			return bins, err
		}
		if _, err := goOutput(ctx, tools, environ, "get", "go.temporal.io/server/cmd/server@"+version, "go.temporal.io/server/cmd/tools/sql@"+version); err != nil {
			return bins, err
		}
		if err := os.WriteFile(filepath.Join(tools, ".ready"), nil, 0o644); err != nil {
			return bins, err
		}
	}
	binDir := filepath.Join(cache, "bin-"+hex.EncodeToString(sum[:])[:16])
	bins.server = filepath.Join(binDir, "temporal-server")
	bins.sqlTool = filepath.Join(binDir, "temporal-sql-tool")
	for pkg, out := range map[string]string{"go.temporal.io/server/cmd/server": bins.server, "go.temporal.io/server/cmd/tools/sql": bins.sqlTool} {
		if _, err := goOutput(ctx, tools, environ, "build", "-o", out, pkg); err != nil {
			return bins, err
		}
	}
	bins.registerns = filepath.Join(dir, "registerns")
	if _, err := goOutput(ctx, root, environ, "build", "-o", bins.registerns, "./scripts/registerns"); err != nil {
		return bins, err
	}
	modDir, err := goOutput(ctx, tools, environ, "list", "-m", "-f", "{{.Dir}}", "go.temporal.io/server")
	if err != nil {
		return bins, err
	}
	bins.schemaDir = filepath.Join(modDir, "schema", "postgresql", "v12")
	prog.logf("Temporal server %s built in %s", version, binDir)
	return bins, nil
}

// goOutput runs the go command in dir and returns its trimmed stdout.
func goOutput(ctx context.Context, dir string, environ []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = environ
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// clusterPorts returns the 11 ports the server listens on: frontend gRPC,
// four membership ports, frontend HTTP, history, matching and worker
// gRPC, metrics and pprof (see startCluster's order). From base on when
// base is set, otherwise ports the kernel reports free.
func clusterPorts(base int) ([]int, error) {
	const n = 11
	ports := make([]int, 0, n)
	if base > 0 {
		for i := range n {
			ports = append(ports, base+i)
		}
		// Order in the config: frontend grpc, frontend membership, frontend
		// http, history grpc, history membership, matching grpc, matching
		// membership, worker grpc, worker membership, metrics, pprof.
		return ports, nil
	}
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	// Not the kernel's free ports: Temporal stores each service's
	// membership port in a SMALLINT column, so a port of the usual
	// ephemeral range (32768 and up) stops the server at start.
	for p := 20_000 + rand.IntN(10_000); len(ports) < n && p < 32_768; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue // taken
		}
		ls = append(ls, l)
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("pick %d free ports below 32768: found %d", n, len(ports))
	}
	return ports, nil
}

// withDatabase is base with its database (path) replaced by name.
func withDatabase(base *url.URL, name string) string {
	u := *base
	u.Path = "/" + name
	return u.String()
}

// adminExec runs one statement on the database of adminURL, on a
// connection of its own.
func adminExec(ctx context.Context, adminURL, stmt string) error {
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(adminURL)))
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, err := admin.ExecContext(ctx, stmt)
	return err
}

// startProcessArgs is startProcess for a binary that takes arguments and
// keeps the environment as it is.
func startProcessArgs(name, binary string, args, environ []string, prog *progress) (*process, <-chan string, error) {
	return startProcess(name, binary, environ, prog, args...)
}

// clusterSnapshot is the state of the cluster's counters at one moment.
type clusterSnapshot struct {
	serverCPU time.Duration
	pg        pgSnapshot
	persist   map[string]float64
}

// clusterCost is what the Temporal server and the PostgreSQL backends
// spent on a phase, per job.
type clusterCost struct {
	ServerCPU time.Duration // per job
	PG        pgCost        // totals
	PGCPU     time.Duration // per job
	Commits   float64       // per job
	Persist   float64       // persistence requests per job
	TopOps    string
}

// costs reads the counters; a nil cluster reads nothing.
func (c *cluster) costs(ctx context.Context) (*clusterSnapshot, error) {
	if c == nil {
		return nil, nil
	}
	cpu, err := readCPU(c.proc.cmd.Process.Pid)
	if err != nil {
		return nil, fmt.Errorf("Temporal server: %w", err)
	}
	pg, err := c.pgWatch.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	persist, err := temporalMetrics(ctx, c.MetricsURL)
	if err != nil {
		return nil, err
	}
	return &clusterSnapshot{serverCPU: cpu.Self, pg: pg, persist: persist}, nil
}

// costsSince is the cost per job of the jobs since before.
func (c *cluster) costsSince(ctx context.Context, before *clusterSnapshot, jobs int) (*clusterCost, error) {
	if c == nil {
		return nil, nil
	}
	after, err := c.costs(ctx)
	if err != nil {
		return nil, err
	}
	n := max(jobs, 1)
	cost := &clusterCost{
		ServerCPU: (after.serverCPU - before.serverCPU) / time.Duration(n),
		PG:        after.pg.since(before.pg),
	}
	cost.PGCPU = cost.PG.CPU / time.Duration(n)
	cost.Commits = float64(cost.PG.Commits) / float64(n)
	cost.Persist, cost.TopOps = topOperations(before.persist, after.persist, n, 8)
	return cost, nil
}

// note describes the cluster's share of a phase.
func (c *clusterCost) note(what string) string {
	s := fmt.Sprintf("%s: Temporal server %s CPU/job, PostgreSQL backends %s CPU/job, %.1f commits/job (%d rollbacks), %.1f persistence requests/job (%s)",
		what, ms(c.ServerCPU), ms(c.PGCPU), c.Commits, c.PG.Rollbacks, c.Persist, c.TopOps)
	if c.PG.Gone > 0 || c.PG.Unreadable > 0 {
		s += fmt.Sprintf("; %d backend(s) exited and %d were unreadable meanwhile, so the PostgreSQL CPU is a lower bound", c.PG.Gone, c.PG.Unreadable)
	}
	return s
}

// profile starts a 20 s CPU profile of the server written to path and
// returns a func that waits for it; no-op for a nil cluster or empty path.
func (c *cluster) profile(ctx context.Context, path string, prog *progress) (wait func()) {
	if c == nil || path == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := fetchProfile(ctx, "http://"+c.PprofAddr+"/debug/pprof/profile?seconds=20", path); err != nil {
			prog.logf("Temporal server profile: %v", err)
			return
		}
		prog.logf("Temporal server CPU profile written to %s", path)
	}()
	return func() { <-done }
}

// fetchProfile saves the answer of a pprof endpoint to path.
func fetchProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
