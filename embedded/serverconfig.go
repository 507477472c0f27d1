package embedded

import (
	"net"
	"slices"
	"strconv"
	"time"

	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
)

const (
	clusterName         = "active"
	storeName           = "sqlite"
	visibilityStoreName = "sqlite-visibility"
	// localIP is where the internal services (history, matching, worker) listen.
	localIP = "127.0.0.1"
)

// dynamicConfig returns the server's dynamic config. Every key is taken from
// a typed setting, so a key renamed in a server upgrade fails to compile.
func dynamicConfig() dynamicconfig.StaticClient {
	// Each history queue reader may poll the database at most MaxPollRPS times
	// a second per shard (default 20). With a single shard every task that
	// arrives faster waits for the limiter: ~40 ms before each workflow task
	// for the transfer queue. The host-level limits default to a share of
	// history.persistenceMaxQPS and do not bind here.
	const queuePollRPS = 10_000
	const serviceRPS = 100_000
	return dynamicconfig.StaticClient{
		dynamicconfig.TransferProcessorMaxPollRPS.Key():   queuePollRPS, // workflow/activity task dispatch
		dynamicconfig.TimerProcessorMaxPollRPS.Key():      queuePollRPS, // timers, timeouts, retries
		dynamicconfig.VisibilityProcessorMaxPollRPS.Key(): queuePollRPS, // visibility records (ListWorkflow)
		dynamicconfig.OutboundProcessorMaxPollRPS.Key():   queuePollRPS, // callbacks and Nexus

		// The history event notifier drops a notification when a subscriber's
		// channel is full; the long poll then waits for this expiration
		// (default 20 s) before the client polls again.
		dynamicconfig.HistoryLongPollExpirationInterval.Key(): 2 * time.Second,

		// ForceSearchAttributesCacheRefreshOnRead stays off (the default):
		// it re-reads cluster metadata from the single-connection main store
		// under a mutex for every visibility row read or written, which made
		// job lists take 5-20 s under load. On SQL visibility a new search
		// attribute is a namespace alias, not cluster metadata, so it never
		// needed the refresh (registerSearchAttributes waits for the alias).

		// Already the default in v1.32; pinned because the product relies on it.
		dynamicconfig.EnableEagerWorkflowStart.Key(): true,
		// Default 10 per second per namespace. Each job-list page makes two
		// visibility calls (count and list), and a refused call is retried
		// by the SDK after a backoff: at 100/s, four readers of the list saw
		// one page in ten take 400 ms instead of 7.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): serviceRPS,
		// Request rate limits protect a shared cluster from one tenant; an
		// embedded server has one tenant and is bounded by CPU. At the
		// defaults (frontend 2400/s, matching 1200/s) a burst of job reads
		// made the frontend refuse the worker's own polls ("service rate
		// limit exceeded"), and every refused poll backs the worker off.
		dynamicconfig.FrontendRPS.Key():                        serviceRPS,
		dynamicconfig.FrontendMaxNamespaceRPSPerInstance.Key(): serviceRPS,
		dynamicconfig.HistoryRPS.Key():                         serviceRPS,
		dynamicconfig.MatchingRPS.Key():                        serviceRPS,
		// Cached mutable states (default 128k). A finished job's state stays
		// cached until evicted, ~18 KB each, though chaptask seldom reads it
		// again: at 8192 the live heap grew from ~60 to ~190 MB between
		// 1,000 and 10,000 finished jobs, every collection marked it, and
		// the job-list page's p99 grew with it (11.8 -> 16.0 ms; 12.1 ms at
		// 10,000 with 1024). An open job whose state was evicted costs one
		// read of it from SQLite on its next step.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 1024,
		// On by default: the frontend periodically reports to and queries
		// Temporal's update service over the internet.
		dynamicconfig.EnableServerVersionCheck.Key(): false,
		// Deleting a closed workflow waits until the transfer queue's ack
		// level, saved every 30 s by default, passes its close task; saving
		// it every second lets a deletion finish within about a second.
		dynamicconfig.TransferProcessorUpdateAckInterval.Key(): time.Second,
		// A task queue has four partitions by default, to spread it over
		// matching hosts; there is one here. A task added to a partition
		// where no poller waited sat there for 30-80 ms (one serial job in
		// ten: serial p95 85 -> 23 ms). New tasks go to one partition; all
		// four are still read, so tasks an earlier version left in the
		// others are not stranded.
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,
		// A job's local run step keeps its workflow task open with
		// heartbeats; after this long (default 30 min) the server times
		// the task out and the step would run again from the start. Above
		// the run step's 24 h limit, so a local step ends the way a
		// regular one does.
		dynamicconfig.WorkflowTaskHeartbeatTimeout.Key(): 48 * time.Hour,
	}
}

// untunedDynamicConfig is the server's default dynamic config, except that
// the version check stays off: a reference measurement must not phone home.
func untunedDynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{dynamicconfig.EnableServerVersionCheck.Key(): false}
}

// ports are the gRPC ports of the four services, and the port of the
// frontend's HTTP API (on the frontend's IP). Without the HTTP API the server
// warns on every start that Nexus is unavailable.
type ports struct {
	frontend     listenAddr
	frontendHTTP int
	history      int
	matching     int
	worker       int
	// internalFrontend and its HTTP port are set when API keys are: the
	// server's own workers call it instead of the public frontend.
	internalFrontend     int
	internalFrontendHTTP int
}

// serverConfig returns the static server config: one history shard, SQLite
// for the default and the visibility store (separate files), archival off, no metrics
// listener (a nil metrics config means a no-op handler) and no pprof.
func serverConfig(st stores, p ports) *config.Config {
	frontend := p.frontend.dialAddr()
	frontendHTTP := net.JoinHostPort(p.frontend.dialHost(), strconv.Itoa(p.frontendHTTP))
	cfg := &config.Config{}
	cfg.Global.Membership.MaxJoinDuration = 30 * time.Second
	cfg.Global.Membership.BroadcastAddress = localIP
	cfg.Persistence = config.Persistence{
		DefaultStore:     storeName,
		VisibilityStore:  visibilityStoreName,
		NumHistoryShards: 1,
		DataStores: map[string]config.DataStore{
			storeName:           {SQL: st.main},
			visibilityStoreName: {SQL: st.visibility},
		},
	}
	cfg.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend, HTTPAddress: frontendHTTP},
		},
	}
	cfg.DCRedirectionPolicy.Policy = "noop"
	cfg.Services = map[string]config.Service{
		string(primitives.FrontendService): {RPC: config.RPC{
			GRPCPort: p.frontend.port,
			HTTPPort: p.frontendHTTP,
			BindOnIP: p.frontend.bindIP,
		}},
		string(primitives.HistoryService):  {RPC: config.RPC{GRPCPort: p.history, BindOnIP: localIP}},
		string(primitives.MatchingService): {RPC: config.RPC{GRPCPort: p.matching, BindOnIP: localIP}},
		string(primitives.WorkerService):   {RPC: config.RPC{GRPCPort: p.worker, BindOnIP: localIP}},
	}
	cfg.Archival.History.State = "disabled"
	cfg.Archival.Visibility.State = "disabled"
	cfg.NamespaceDefaults.Archival.History.State = "disabled"
	cfg.NamespaceDefaults.Archival.Visibility.State = "disabled"
	if p.internalFrontend != 0 {
		// The system workflows (schedules among them) reach the internal
		// frontend through membership, over internode TLS.
		cfg.Services[string(primitives.InternalFrontendService)] = config.Service{RPC: config.RPC{
			GRPCPort: p.internalFrontend,
			HTTPPort: p.internalFrontendHTTP,
			BindOnIP: localIP,
		}}
		return cfg
	}
	// The worker service's system workflows dial the frontend here.
	cfg.PublicClient.HostPort = frontend
	return cfg
}

// serverOptions returns the options for temporal.NewServer. Static hosts
// replace ringpop membership: no membership ports, no gossip, faster start.
func serverOptions(cfg *config.Config, p ports, dc dynamicconfig.Client, logger log.Logger, auth authOptions) []temporal.ServerOption {
	local := func(port int) static.Hosts {
		return static.SingleLocalHost(net.JoinHostPort(localIP, strconv.Itoa(port)))
	}
	services := temporal.DefaultServices
	hosts := map[primitives.ServiceName]static.Hosts{
		primitives.FrontendService: static.SingleLocalHost(p.frontend.dialAddr()),
		primitives.HistoryService:  local(p.history),
		primitives.MatchingService: local(p.matching),
		primitives.WorkerService:   local(p.worker),
	}
	if auth.internal {
		services = append(slices.Clone(services), string(primitives.InternalFrontendService))
		hosts[primitives.InternalFrontendService] = local(p.internalFrontend)
	}
	opts := []temporal.ServerOption{
		temporal.WithConfig(cfg),
		temporal.ForServices(services),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dc),
		temporal.WithCustomMetricsHandler(metrics.NoopMetricsHandler),
		temporal.WithAuthorizer(auth.authz),
		temporal.WithClaimMapper(auth.claimMapperFunc()),
	}
	if auth.tls != nil {
		opts = append(opts, temporal.WithTLSConfigFactory(auth.tls))
	}
	return opts
}
