package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	enums "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

// DefaultRetention keeps closed workflows for 30 days.
const DefaultRetention = 30 * 24 * time.Hour

const (
	defaultFrontendAddr = "127.0.0.1:7233"
	defaultNamespace    = "default"
	// startTimeout bounds Start when ctx has no earlier deadline.
	startTimeout = time.Minute
	// stopTimeout bounds the WAL checkpoint after the server has stopped.
	stopTimeout = 10 * time.Second
)

// Config configures an embedded Temporal server. The zero value runs an
// in-memory server on 127.0.0.1:7233 with the "default" namespace and no UI.
type Config struct {
	// DataDir holds the SQLite database (DataDir/temporal.db); it is created
	// if missing. "" keeps everything in memory, for tests.
	DataDir string
	// FrontendAddr is the gRPC frontend "host:port"; default "127.0.0.1:7233".
	// Port 0 picks a free port. The host must be an IP address or localhost.
	FrontendAddr string
	// UIAddr is the Temporal Web UI "host:port"; "" disables the UI. Port 0
	// picks a free port.
	UIAddr string
	// Namespace is registered on start if it does not exist; default "default".
	Namespace string
	// SearchAttributes are custom search attributes registered on Namespace
	// on start; attributes that already exist with the same type are left alone.
	SearchAttributes map[string]enums.IndexedValueType
	// Retention is how long closed workflows are kept before Temporal deletes
	// them; 0 means DefaultRetention. It is applied on every start.
	Retention time.Duration
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// LogLevel is the lowest level of server logs passed to Logger; nil means
	// slog.LevelWarn, because the server is chatty.
	LogLevel slog.Leveler
	// APIKeys, when not empty, are the keys the frontend accepts, sent as
	// "authorization: Bearer <key>" (the temporal CLI's --api-key; in the
	// SDK, client.NewAPIKeyStaticCredentials with TLS disabled). Calls
	// without one are denied, health checks aside. The server's own
	// services then talk over mutual TLS with a certificate kept in memory,
	// so none of their ports is a way around the keys. A Web UI (UIAddr)
	// has no login of its own: it calls the frontend with the first key,
	// so anyone who can reach it acts with that key.
	APIKeys []string
	// Untuned uses the server's default dynamic config instead of chaptask's
	// tuned one (only the version check stays off), for reference
	// measurements only: see cmd/chaptask-bench.
	Untuned bool
}

// Server is a running in-process Temporal server: frontend, history,
// matching and worker services in one process, on SQLite.
type Server struct {
	server       temporal.Server
	ui           *webUI
	frontendAddr string
	namespace    string
	apiKey       string   // "" when the frontend is open
	internal     []string // host:port of the services only the server itself calls
	dbPath       string   // "" when in memory
	visPath      string   // the visibility store's file; "" when in memory
	logger       *slog.Logger
	muteLogs     *atomic.Bool // set by Stop

	stopOnce sync.Once
	stopErr  error
}

// Start starts a server and returns once the frontend accepts requests, the
// namespace is usable, the search attributes are registered and the Web UI
// (if enabled) answers. Stop must be called to release it.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.FrontendAddr == "" {
		cfg.FrontendAddr = defaultFrontendAddr
	}
	if cfg.Namespace == "" {
		cfg.Namespace = defaultNamespace
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.LogLevel == nil {
		cfg.LogLevel = slog.LevelWarn
	}
	handler := slog.DiscardHandler
	if cfg.Logger != nil {
		handler = cfg.Logger.Handler()
	}
	muted := new(atomic.Bool)
	logger := slog.New(filterHandler{min: cfg.LogLevel, muted: muted, inner: handler})

	if err := validateSearchAttributes(cfg.SearchAttributes); err != nil {
		return nil, err
	}
	frontend, err := parseListenAddr(cfg.FrontendAddr)
	if err != nil {
		return nil, fmt.Errorf("frontend: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()

	sqlCfg, dbPath, err := sqliteConfig(cfg.DataDir, dbFileName)
	if err != nil {
		return nil, err
	}
	visCfg, visPath, err := sqliteConfig(cfg.DataDir, visibilityDBFileName)
	if err != nil {
		return nil, err
	}
	if dbPath != "" {
		if err := claimDB(dbPath); err != nil {
			return nil, err
		}
	}
	s := &Server{
		namespace: cfg.Namespace,
		apiKey:    firstKey(cfg.APIKeys),
		dbPath:    dbPath,
		visPath:   visPath,
		logger:    logger,
		muteLogs:  muted,
	}
	auth, err := newAuthOptions(cfg.APIKeys)
	if err != nil {
		return nil, err
	}
	if err := s.start(ctx, cfg, stores{sqlCfg, visCfg}, frontend, auth); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// stores are the SQLite configs of the default and the visibility store.
type stores struct {
	main, visibility *config.SQL
}

func (s *Server) start(ctx context.Context, cfg Config, st stores, frontend listenAddr, auth authOptions) error {
	if cfg.Untuned {
		// The reference measurement keeps the server's usual layout: one
		// database for everything, with every visibility index.
		st.visibility = st.main
		s.visPath = ""
	}
	sqlCfg := st.main
	p, err := choosePorts(frontend, auth.internal)
	if err != nil {
		return err
	}
	s.frontendAddr = p.frontend.dialAddr()
	for _, port := range []int{p.history, p.matching, p.worker, p.internalFrontend} {
		if port != 0 {
			s.internal = append(s.internal, net.JoinHostPort(localIP, strconv.Itoa(port)))
		}
	}

	if err := createNamespace(sqlCfg, clusterName, cfg.Namespace, cfg.Retention, cfg.SearchAttributes); err != nil {
		return err
	}
	srvLogger := serverLogger{sl: s.logger}
	dc := dynamicConfig()
	if cfg.Untuned {
		dc = untunedDynamicConfig()
	}
	srv, err := temporal.NewServer(serverOptions(serverConfig(st, p), p, dc, srvLogger, auth)...)
	if err != nil {
		return fmt.Errorf("create temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start temporal server: %w", err)
	}
	s.server = srv

	c, err := client.NewLazyClient(s.ClientOptions(client.Options{
		Namespace: cfg.Namespace,
		Logger:    sdklog.NewStructuredLogger(s.logger),
	}))
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	defer c.Close()
	if err := waitForNamespace(ctx, c, cfg.Namespace); err != nil {
		return err
	}
	if err := registerSearchAttributes(ctx, c, cfg.Namespace, cfg.SearchAttributes); err != nil {
		return err
	}
	if err := applyRetention(ctx, c, cfg.Namespace, cfg.Retention); err != nil {
		return err
	}
	if s.visPath != "" {
		if err := tuneVisibilityIndexes(ctx, s.visPath); err != nil {
			return err
		}
	}

	if cfg.UIAddr != "" {
		ui, err := startUI(ctx, cfg.UIAddr, s.frontendAddr, cfg.Namespace, s.apiKey)
		if err != nil {
			return fmt.Errorf("web UI: %w", err)
		}
		s.ui = ui
	}
	return nil
}

// applyRetention sets the namespace's retention when an existing namespace
// has another one (a new namespace is created with it).
func applyRetention(ctx context.Context, c client.Client, namespace string, retention time.Duration) error {
	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("describe namespace %s: %w", namespace, err)
	}
	if desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() == retention {
		return nil
	}
	_, err = c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: namespace,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(retention)},
	})
	if err != nil {
		return fmt.Errorf("set retention of namespace %s: %w", namespace, err)
	}
	return nil
}

// choosePorts resolves the frontend port and picks free ports for the
// frontend's HTTP API and the internal services, so that several servers can
// run in one process.
func choosePorts(frontend listenAddr, internalFrontend bool) (ports, error) {
	var p ports
	var err error
	if p.frontend, err = frontend.resolve(); err != nil {
		return p, fmt.Errorf("frontend: %w", err)
	}
	if p.frontendHTTP, err = freePort(p.frontend.bindIP); err != nil {
		return p, err
	}
	internal := []*int{&p.history, &p.matching, &p.worker}
	if internalFrontend {
		internal = append(internal, &p.internalFrontend, &p.internalFrontendHTTP)
	}
	for _, port := range internal {
		if *port, err = freePort(localIP); err != nil {
			return p, err
		}
	}
	return p, nil
}

// waitForNamespace waits until the frontend is serving and its namespace
// cache knows namespace.
func waitForNamespace(ctx context.Context, c client.Client, namespace string) error {
	err := poll(ctx, 20*time.Millisecond, func(ctx context.Context) error {
		if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			return err
		}
		_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{
			Namespace:       namespace,
			WeakConsistency: true, // answer from the cache, as request handling does
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("wait for namespace %s: %w", namespace, err)
	}
	return nil
}

// registerSearchAttributes adds the attributes of want that namespace lacks
// and waits until the frontend's namespace cache has them. An attribute that
// exists with another type is an error.
func registerSearchAttributes(ctx context.Context, c client.Client, namespace string, want map[string]enums.IndexedValueType) error {
	if len(want) == 0 {
		return nil
	}
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enums.IndexedValueType{}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		typ := want[name]
		got, ok := resp.GetCustomAttributes()[name]
		if !ok {
			missing[name] = typ
		} else if got != typ {
			return fmt.Errorf("search attribute %s exists with type %s, want %s", name, got, typ)
		}
	}
	if len(missing) == 0 {
		return nil
	}

	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	if err != nil {
		return fmt.Errorf("add search attributes: %w", err)
	}
	// The aliases are stored in the namespace; the services pick them up on
	// their next namespace cache refresh (every 2 s by default).
	err = poll(ctx, 50*time.Millisecond, func(ctx context.Context) error {
		desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{
			Namespace:       namespace,
			WeakConsistency: true,
		})
		if err != nil {
			return err
		}
		aliases := map[string]bool{}
		for _, alias := range desc.GetConfig().GetCustomSearchAttributeAliases() {
			aliases[alias] = true
		}
		for name := range missing {
			if !aliases[name] {
				return fmt.Errorf("search attribute %s not in namespace cache yet", name)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("wait for search attributes: %w", err)
	}
	return nil
}

// poll calls fn every interval until it returns nil or ctx ends; each call
// gets at most 5 s. On timeout the error includes fn's last error.
func poll(ctx context.Context, interval time.Duration, fn func(context.Context) error) error {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := fn(attemptCtx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-ticker.C:
		}
	}
}

// FrontendAddr returns the gRPC frontend's "host:port", with the port chosen
// if Config.FrontendAddr had port 0. An all-interfaces host is reported as
// loopback so the address can be dialed.
func (s *Server) FrontendAddr() string { return s.frontendAddr }

// ClientOptions returns opts set up to reach this server's frontend: its
// address, and, when the frontend requires API keys, the first key as the
// credentials (over plain TCP, as the frontend serves).
func (s *Server) ClientOptions(opts client.Options) client.Options {
	opts.HostPort = s.frontendAddr
	if s.apiKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(s.apiKey)
		opts.ConnectionOptions.TLSDisabled = true
	}
	return opts
}

// firstKey is the key the server's own clients use, "" for none.
func firstKey(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

// UIAddr returns the Web UI's "host:port", or "" when the UI is disabled.
func (s *Server) UIAddr() string {
	if s.ui == nil {
		return ""
	}
	return s.ui.addr
}

// Namespace returns the namespace registered on start.
func (s *Server) Namespace() string { return s.namespace }

// Stop stops the Web UI and the server and waits for them. With a DataDir it
// then checkpoints the SQLite write-ahead log into the database file. It is
// safe to call more than once; later calls return the first call's error.
//
// Server logs are discarded from the moment Stop is called: while shutting
// down the server logs canceled requests as errors, and some of its internal
// workers (task queue and history scanners, parent close policy) are never
// stopped by the server and keep logging failed polls afterwards.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.muteLogs.Store(true)
		if s.ui != nil {
			s.ui.stop()
		}
		var errs []error
		if s.server != nil {
			if err := s.server.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stop temporal server: %w", err))
			}
		}
		if s.dbPath != "" {
			// Stop has no context in its signature; the checkpoint is bounded
			// by stopTimeout instead.
			ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
			defer cancel()
			for _, path := range []string{s.dbPath, s.visPath} {
				if _, err := os.Stat(path); err == nil {
					if err := checkpoint(ctx, path); err != nil {
						errs = append(errs, err)
					}
				}
			}
			releaseDB(s.dbPath)
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}
