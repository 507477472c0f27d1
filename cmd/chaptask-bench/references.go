package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/chaptask/chaptask/activities"
)

// Designs of the reference rows.
const (
	naiveDesign = "reference A: naive Temporal"
	rawDesign   = "reference B: no Temporal"
)

// referencesResult is what the bench measured of the references.
type referencesResult struct {
	Rows  []row
	Notes []string
}

// measureReferences measures reference A and then reference B in this
// process, serial and saturated, on echo jobs.
func measureReferences(ctx context.Context, cfg config, dir string, environ []string, prog *progress) (res referencesResult, err error) {
	shellEnv := activities.ShellEnv(getenvFrom(environ))
	selfCPU := func() (cpuTimes, error) { return readCPU(0) }

	prog.begin("starting reference A (untuned embedded Temporal server)")
	tail := &logTail{name: "reference A", prog: prog}
	logger := slog.New(slog.NewTextHandler(&lineWriter{fn: tail.add}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := startNaive(ctx, filepath.Join(dir, "naive"), cfg.DatabaseURL, cfg.MaxConcurrency, shellEnv, logger)
	if err != nil {
		return res, err
	}
	naiveRow, err := measureDesign(ctx, cfg, naiveDesign, n.job, selfCPU, prog)
	res.Notes = append(res.Notes, fmt.Sprintf("%s: %d stall(s): jobs closed but their result not delivered by the SDK's Get after %s (a missed history long-poll wake-up), then read with DescribeWorkflowExecution; %d more job(s) were merely still running after %s",
		naiveDesign, n.stalls.Load(), stallAfter, n.slow.Load(), stallAfter))
	if c := tail.count(); c > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%s: %d log line(s) at warn level or above", naiveDesign, c))
	}
	if stopErr := n.stop(); stopErr != nil {
		err = errors.Join(err, stopErr)
	}
	if err != nil {
		return res, err
	}
	res.Rows = append(res.Rows, naiveRow.row)
	res.Notes = append(res.Notes, naiveRow.notes...)

	prog.begin("starting reference B (no Temporal)")
	r, err := startRaw(ctx, filepath.Join(dir, "raw"), cfg.DatabaseURL, shellEnv)
	if err != nil {
		return res, err
	}
	rawRow, err := measureDesign(ctx, cfg, rawDesign, r.job, selfCPU, prog)
	if stopErr := r.stop(); stopErr != nil {
		err = errors.Join(err, stopErr)
	}
	if err != nil {
		return res, err
	}
	res.Rows = append(res.Rows, rawRow.row)
	res.Notes = append(res.Notes, rawRow.notes...)
	return res, nil
}

// measuredDesign is one reference's row and what it noted.
type measuredDesign struct {
	row   row
	notes []string
}

// measureDesign measures serial latency and saturated throughput of job.
func measureDesign(ctx context.Context, cfg config, design string, job jobFunc, cpu cpuFunc, prog *progress) (measuredDesign, error) {
	var m measuredDesign
	prog.begin("%s: serial, %d jobs after %d warm-up", design, cfg.Serial, cfg.Warmup)
	serial, err := runSerial(ctx, cfg.Warmup, cfg.Serial, job, prog)
	if err != nil {
		return m, fmt.Errorf("%s serial: %w", design, err)
	}
	prog.begin("%s: saturated, %d jobs from %d clients", design, cfg.RefSaturated, cfg.Clients)
	sat, err := runSaturated(ctx, cfg.RefSaturated, cfg.Clients, job, cpu, prog)
	if err != nil {
		return m, fmt.Errorf("%s saturated: %w", design, err)
	}
	m.row = row{Design: design, Serial: summarize(serial.Latencies), Saturated: &sat}
	m.notes = appendUnexpected(m.notes, design+" serial", serial)
	m.notes = appendUnexpected(m.notes, design+" saturated", sat)
	m.notes = append(m.notes, saturatedNote(design, sat, cfg.Clients))
	return m, nil
}

// getenvFrom returns a getenv over environ.
func getenvFrom(environ []string) func(string) string {
	return func(name string) string {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, name+"="); ok {
				return v
			}
		}
		return ""
	}
}
