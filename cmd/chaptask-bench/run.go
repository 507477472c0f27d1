package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// run parses the flags, measures chaptask and the references in turn and
// prints the report on stdout; progress goes to stderr. environ is the
// bench's environment: the build and the chaptask processes inherit it,
// without the variables chaptask reads.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) (err error) {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	prog := newProgress(stderr)
	prog.logf("chaptask-bench: %s", cfg.describe())

	dir, err := os.MkdirTemp("", "chaptask-bench-*")
	if err != nil {
		return fmt.Errorf("create temporary directory: %w", err)
	}
	defer func() {
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove temporary directory: %w", rmErr))
		}
	}()

	var topologies []topology
	if cfg.Production {
		prog.begin("starting the production topology")
		c, err := startCluster(ctx, cfg, dir, environ, prog)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, c.stop()) }()
		if !cfg.SkipEmbedded {
			topologies = append(topologies, topology{})
		}
		topologies = append(topologies, topology{Label: "production: ", DatabaseURL: c.AppURL, TemporalAddr: c.Frontend, Cluster: c})
		// The references keep to the embedded default's SQLite.
		cfg.DatabaseURL = ""
	} else {
		if cfg.DatabaseURL != "" {
			// From here on DatabaseURL names the throwaway schema, which both
			// chaptask and the references use.
			url, drop, err := createSchema(ctx, cfg.DatabaseURL)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, drop()) }()
			cfg.DatabaseURL = url
		}
		topologies = append(topologies, topology{DatabaseURL: cfg.DatabaseURL, TemporalAddr: cfg.TemporalAddr})
	}

	binary := cfg.Binary
	if binary == "" {
		prog.begin("building chaptask")
		if binary, err = buildChaptask(ctx, dir, environ, prog); err != nil {
			return err
		}
	}
	rep := report{Config: cfg.describe()}
	for _, top := range topologies {
		chaptask, err := measureChaptask(ctx, cfg, top, binary, dir, environ, prog)
		if err != nil {
			return err
		}
		rep.Rows = append(rep.Rows, chaptask.Rows...)
		rep.Reads = append(rep.Reads, labeledReads{Label: top.Label, readsResult: chaptask.Reads})
		rep.Notes = append(rep.Notes, chaptask.Notes...)
		if chaptask.Reads.LoadErr != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%sa background client failed during the read test: %v", top.Label, chaptask.Reads.LoadErr))
		}
	}

	if !cfg.SkipReferences {
		refs, err := measureReferences(ctx, cfg, dir, environ, prog)
		if err != nil {
			return err
		}
		rep.Rows = append(rep.Rows, refs.Rows...)
		rep.Notes = append(rep.Notes, refs.Notes...)
	}

	rep.Elapsed = time.Since(prog.start)
	prog.logf("done")
	return rep.write(stdout)
}
