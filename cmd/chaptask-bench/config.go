package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// config is what the flags choose.
type config struct {
	Quick          bool
	Serial         int           // measured jobs per serial row
	Warmup         int           // jobs before each serial row, not measured
	Saturated      int           // jobs of chaptask's saturated measurement
	RefSaturated   int           // jobs of each reference's saturated measurement
	Clients        int           // concurrent clients of the saturated measurements
	History        int           // finished jobs that exist before API reads are timed
	HistorySteps   []int         // smaller histories at which the quiet reads are timed too
	Reads          int           // requests per endpoint in the read test
	ReadBudget     time.Duration // time after which an endpoint's reads stop short of Reads
	Readers        int           // concurrent readers in the read test
	Submitters     int           // clients submitting jobs during the read test
	TopUpClients   int           // concurrent submitters filling the history
	MaxConcurrency int           // CHAPTASK_MAX_CONCURRENCY of every chaptask process
	Workers        int           // chaptask processes running a worker (1 = just the main one)
	SkipReferences bool
	DatabaseURL    string
	TemporalAddr   string
	Binary         string
	// PollEvery is how often the saturated polling clients read their job.
	PollEvery time.Duration
	// Production adds the production topology: a Temporal server on
	// PostgreSQL built by the bench, with chaptask on PostgreSQL.
	Production    bool
	SkipEmbedded  bool   // with Production: measure the production topology only
	DBPrefix      string // prefix of the databases Production creates
	PortBase      int    // first of the Temporal server's 11 ports; 0 picks free ones
	Shards        int    // numHistoryShards of the Temporal server
	DynamicConfig string // the Temporal server's dynamic config file; empty is Temporal's defaults
	// UntunedVisibility leaves out deploy/temporal/visibility-tuning.sql,
	// for a measurement of Temporal's schema as it comes.
	UntunedVisibility bool
	// ServerProfile, when set, is where a CPU profile of the Temporal
	// server is written, taken during the production ?wait= saturated run.
	ServerProfile string
}

// counts are the figures -quick changes, unless set explicitly.
type counts struct {
	serial, warmup, saturated, refSaturated, history, reads int
	readBudget                                              time.Duration
}

var (
	defaultCounts = counts{serial: 200, warmup: 20, saturated: 2000, refSaturated: 1000, history: 10_000, reads: 1000, readBudget: 30 * time.Second}
	quickCounts   = counts{serial: 50, warmup: 5, saturated: 300, refSaturated: 300, history: 1000, reads: 200, readBudget: 15 * time.Second}
)

func parseConfig(args []string, stderr io.Writer) (config, error) {
	cfg := config{Readers: 4, Submitters: 10, TopUpClients: 32}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := defaultCounts
	q := quickCounts
	fs.BoolVar(&cfg.Quick, "quick", false, fmt.Sprintf("reduced counts for a smoke test (serial %d, saturated %d, reference-saturated %d, history %d, reads %d in at most %s)",
		q.serial, q.saturated, q.refSaturated, q.history, q.reads, q.readBudget))
	fs.IntVar(&cfg.Serial, "serial", d.serial, "measured jobs per serial latency row")
	fs.IntVar(&cfg.Saturated, "saturated", d.saturated, "jobs of chaptask's saturated throughput measurement")
	fs.IntVar(&cfg.RefSaturated, "reference-saturated", d.refSaturated, "jobs of each reference's saturated throughput measurement")
	fs.IntVar(&cfg.Clients, "clients", 50, "concurrent clients of the saturated measurements")
	fs.IntVar(&cfg.History, "history", d.history, "finished jobs that exist before API reads are timed")
	fs.IntVar(&cfg.MaxConcurrency, "max-concurrency", runtime.NumCPU(), "CHAPTASK_MAX_CONCURRENCY of each chaptask process (and the naive reference's worker)")
	fs.IntVar(&cfg.Workers, "workers", 1, "chaptask processes with a worker: the main one plus N-1 worker-only processes")
	fs.BoolVar(&cfg.SkipReferences, "skip-references", false, "measure chaptask only")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL server to use (a throwaway schema is created and dropped); empty uses SQLite")
	fs.StringVar(&cfg.TemporalAddr, "temporal-address", "", "external Temporal frontend host:port; empty uses chaptask's embedded server")
	fs.StringVar(&cfg.Binary, "binary", "", "chaptask binary to run; empty builds ./cmd/chaptask")
	fs.DurationVar(&cfg.PollEvery, "poll-every", 100*time.Millisecond, "how often each saturated polling client reads its job (chapkit's clients poll every 0.1 s)")
	steps := fs.String("history-steps", "", "comma-separated smaller history sizes (e.g. 1000) at which the 1-reader reads are timed too, on the way to -history")
	fs.BoolVar(&cfg.Production, "production", false, "also measure the production topology: build and start a Temporal server on the PostgreSQL server of -database-url (which must name a database the bench may create databases from), chaptask on PostgreSQL")
	fs.BoolVar(&cfg.SkipEmbedded, "skip-embedded", false, "with -production: measure the production topology only")
	fs.StringVar(&cfg.DBPrefix, "db-prefix", "chaptask_bench", "with -production: prefix of the databases created (and dropped at the end)")
	fs.IntVar(&cfg.PortBase, "port-base", 0, "with -production: first of 11 consecutive ports of the Temporal server; 0 picks free ports")
	fs.IntVar(&cfg.Shards, "shards", 4, "with -production: numHistoryShards of the Temporal server")
	fs.BoolVar(&cfg.UntunedVisibility, "untuned-visibility", false, "with -production: leave the visibility table's autovacuum settings at PostgreSQL's defaults instead of applying deploy/temporal/visibility-tuning.sql")
	fs.StringVar(&cfg.DynamicConfig, "dynamic-config", "", "with -production: the Temporal server's dynamic config file, e.g. deploy/temporal/dynamicconfig.yaml; empty runs Temporal's defaults")
	fs.StringVar(&cfg.ServerProfile, "server-profile", "", "with -production: write a 20 s CPU profile of the Temporal server, taken during the ?wait= saturated run, to this file")
	if err := fs.Parse(args[1:]); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}

	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg.Warmup, cfg.Reads, cfg.ReadBudget = d.warmup, d.reads, d.readBudget
	if cfg.Quick {
		cfg.Warmup, cfg.Reads, cfg.ReadBudget = q.warmup, q.reads, q.readBudget
		if !set["serial"] {
			cfg.Serial = q.serial
		}
		if !set["saturated"] {
			cfg.Saturated = q.saturated
		}
		if !set["reference-saturated"] {
			cfg.RefSaturated = q.refSaturated
		}
		if !set["history"] {
			cfg.History = q.history
		}
	}

	var errs []error
	for _, v := range []struct {
		name string
		val  int
		min  int
	}{
		{"serial", cfg.Serial, 1},
		{"saturated", cfg.Saturated, 1},
		{"reference-saturated", cfg.RefSaturated, 1},
		{"clients", cfg.Clients, 1},
		{"history", cfg.History, 0},
		{"max-concurrency", cfg.MaxConcurrency, 1},
		{"workers", cfg.Workers, 1},
		{"shards", cfg.Shards, 1},
	} {
		if v.val < v.min {
			errs = append(errs, fmt.Errorf("-%s must be at least %d, got %d", v.name, v.min, v.val))
		}
	}
	if cfg.DatabaseURL != "" && !strings.HasPrefix(cfg.DatabaseURL, "postgres://") && !strings.HasPrefix(cfg.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("-database-url must be a postgres:// URL"))
	}
	if *steps != "" {
		for _, f := range strings.Split(*steps, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 || n >= cfg.History || (len(cfg.HistorySteps) > 0 && n <= cfg.HistorySteps[len(cfg.HistorySteps)-1]) {
				errs = append(errs, fmt.Errorf("-history-steps: %q: want increasing counts below -history (%d)", f, cfg.History))
				break
			}
			cfg.HistorySteps = append(cfg.HistorySteps, n)
		}
	}
	if cfg.Production && cfg.DatabaseURL == "" {
		errs = append(errs, errors.New("-production needs -database-url (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)"))
	}
	if cfg.Production && cfg.TemporalAddr != "" {
		errs = append(errs, errors.New("-production starts its own Temporal server: drop -temporal-address"))
	}
	if cfg.SkipEmbedded && !cfg.Production {
		errs = append(errs, errors.New("-skip-embedded needs -production"))
	}
	if cfg.PollEvery <= 0 {
		errs = append(errs, errors.New("-poll-every must be positive"))
	}
	if strings.Trim(cfg.DBPrefix, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" || cfg.DBPrefix == "" {
		errs = append(errs, errors.New("-db-prefix must be lower-case letters, digits and underscores"))
	}
	return cfg, errors.Join(errs...)
}

// describe is the configuration line of the report.
func (c config) describe() string {
	temporal := "embedded Temporal"
	if c.TemporalAddr != "" {
		temporal = "external Temporal " + c.TemporalAddr
	}
	database := "SQLite"
	if c.DatabaseURL != "" {
		database = "PostgreSQL"
	}
	if c.Production {
		dyn := c.DynamicConfig
		if dyn == "" {
			dyn = "Temporal's defaults"
		}
		temporal, database = "embedded Temporal + SQLite, then production topology", fmt.Sprintf("(Temporal server on PostgreSQL, %d shards, dynamic config %s; chaptask on PostgreSQL)", c.Shards, dyn)
		if c.SkipEmbedded {
			temporal = "production topology"
		}
	}
	refs := fmt.Sprintf("references %d", c.RefSaturated)
	if c.SkipReferences {
		refs = "references skipped"
	}
	return fmt.Sprintf("%s + %s | %d chaptask process(es) with a worker | max concurrency %d | serial %d jobs (+%d warm-up) | saturated %d jobs (%s), %d clients polling every %s or waiting | history %d | reads %d/endpoint (at most %s), %d readers, %d submitters | %s %s/%s | %d CPUs",
		temporal, database, c.Workers, c.MaxConcurrency, c.Serial, c.Warmup, c.Saturated, refs, c.Clients, c.PollEvery,
		c.History, c.Reads, c.ReadBudget, c.Readers, c.Submitters, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
}
