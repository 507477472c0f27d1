package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/chaptask/chaptask/db"
)

// Poll intervals of the clients: tight for serial latency, gentler when
// many clients poll at once.
const (
	serialPollEvery     = time.Millisecond
	backgroundPollEvery = 10 * time.Millisecond
)

// waitDesign is the row of clients that long-poll with ?wait=.
const waitDesign = "chaptask echo (HTTP ?wait=)"

// The tasks every design runs.
var (
	echoTask = map[string]any{"command": "echo hi"}
	sumTask  = map[string]any{"command": "calculate_sum", "task_type": "go", "parameters": map[string]any{"a": 1, "b": 2}}
)

// chaptaskResult is what the bench measured of chaptask.
type chaptaskResult struct {
	Rows  []row
	Reads readsResult
	Notes []string
}

// topology is where one measurement of chaptask runs.
type topology struct {
	// Label prefixes the rows ("" for the first, compared with the
	// references).
	Label        string
	DatabaseURL  string
	TemporalAddr string
	// Cluster is the Temporal server the bench started, whose CPU and
	// PostgreSQL backends count towards each job; nil otherwise.
	Cluster *cluster
}

// measureChaptask starts chaptask as configured and measures it through its
// HTTP API: serial latency of both tasks (polling and streaming), saturated
// throughput of echo jobs, then API reads with a full history.
func measureChaptask(ctx context.Context, cfg config, top topology, binary, dir string, environ []string, prog *progress) (res chaptaskResult, err error) {
	prog.begin("%sstarting chaptask (%d process(es))", top.Label, cfg.Workers)
	svc, err := startService(ctx, serviceConfig{
		Binary:          binary,
		DataDir:         filepath.Join(dir, "chaptask-data"+strings.TrimSuffix(strings.ReplaceAll(top.Label, " ", ""), ":")),
		DatabaseURL:     top.DatabaseURL,
		TemporalAddress: top.TemporalAddr,
		TaskQueue:       "chaptask-bench-" + strings.ToLower(db.NewID()),
		MaxConcurrency:  cfg.MaxConcurrency,
		Workers:         cfg.Workers,
		Environ:         environ,
	}, prog)
	if err != nil {
		return res, err
	}
	defer func() {
		prog.begin("stopping chaptask")
		if stopErr := svc.stop(); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stop chaptask: %w", stopErr))
		}
		if n := svc.logLines(); n > 0 {
			res.Notes = append(res.Notes, fmt.Sprintf(top.Label+"chaptask wrote %d log line(s) at warn level or above (the first are in the progress output)", n))
		}
	}()
	prog.logf("chaptask serves %s (Temporal frontend %s)", svc.BaseURL, svc.Frontend)
	api := newAPIClient(svc.BaseURL)
	defer api.close()

	echoID, err := api.createTask(ctx, echoTask)
	if err != nil {
		return res, err
	}
	sumID, err := api.createTask(ctx, sumTask)
	if err != nil {
		return res, err
	}
	// Jobs that exist already count towards the history (an external
	// Temporal namespace may hold some).
	baseline, _, err := api.jobsPage(ctx, "completed")
	if err != nil {
		return res, err
	}

	serialRows := []struct {
		design string
		job    jobFunc
	}{
		{primaryDesign, pollJob(api, echoID, serialPollEvery)},
		{waitDesign, waitJob(api, echoID)},
		{"chaptask echo (HTTP SSE)", streamJob(api, echoID)},
		{"chaptask calculate_sum (HTTP poll)", pollJob(api, sumID, serialPollEvery)},
		{"chaptask calculate_sum (HTTP SSE)", streamJob(api, sumID)},
	}
	for _, s := range serialRows {
		prog.begin("%s: serial, %d jobs after %d warm-up", s.design, cfg.Serial, cfg.Warmup)
		p, err := runSerial(ctx, cfg.Warmup, cfg.Serial, s.job, prog)
		if err != nil {
			return res, fmt.Errorf("%s: %w", s.design, err)
		}
		if err := svc.alive(); err != nil {
			return res, err
		}
		res.Rows = append(res.Rows, row{Design: s.design, Serial: summarize(p.Latencies)})
		res.Notes = appendUnexpected(res.Notes, s.design+" serial", p)
	}

	prog.begin("%schaptask echo: saturated, %d jobs from %d clients polling every %s", top.Label, cfg.Saturated, cfg.Clients, cfg.PollEvery)
	pollsBefore := api.polls.Load()
	cpuBefore, err := svc.cpuEach()
	if err != nil {
		return res, err
	}
	costBefore, err := top.Cluster.costs(ctx)
	if err != nil {
		return res, err
	}
	sat, err := runSaturated(ctx, cfg.Saturated, cfg.Clients, pollJob(api, echoID, cfg.PollEvery), svc.cpu, prog)
	if err != nil {
		return res, fmt.Errorf("chaptask saturated: %w", err)
	}
	if sat.Cluster, err = top.Cluster.costsSince(ctx, costBefore, len(sat.Latencies)); err != nil {
		return res, err
	}
	res.Rows[0].Saturated = &sat // the primary row
	if cfg.Workers > 1 {
		cpuAfter, err := svc.cpuEach()
		if err != nil {
			return res, err
		}
		var split []string
		for i, after := range cpuAfter {
			used := after.CPU.sub(cpuBefore[i].CPU)
			split = append(split, fmt.Sprintf("%s %.1f s (shells %.1f s)", after.Name, used.Self.Seconds(), used.Children.Seconds()))
		}
		res.Notes = append(res.Notes, "chaptask saturated: CPU by process: "+strings.Join(split, ", "))
	}
	if top.DatabaseURL != "" && top.Cluster == nil {
		res.Notes = append(res.Notes, "CPU per job leaves out the PostgreSQL server's CPU (see the machine's)")
	}
	res.Notes = appendUnexpected(res.Notes, "chaptask saturated", sat)
	res.Notes = append(res.Notes, saturatedNote("chaptask", sat, cfg.Clients)+
		fmt.Sprintf(" (the bench's clients polled each job %.1f times)", float64(api.polls.Load()-pollsBefore)/float64(len(sat.Latencies))))

	// The same load from clients that long-poll with ?wait= instead of
	// polling every 10 ms: what the service costs without the clients'
	// polling on top.
	prog.begin("%schaptask echo: saturated with ?wait=, %d jobs from %d clients", top.Label, cfg.Saturated, cfg.Clients)
	pollsBefore = api.polls.Load()
	if costBefore, err = top.Cluster.costs(ctx); err != nil {
		return res, err
	}
	stopProfile := top.Cluster.profile(ctx, cfg.ServerProfile, prog)
	waited, err := runSaturated(ctx, cfg.Saturated, cfg.Clients, waitJob(api, echoID), svc.cpu, prog)
	stopProfile()
	if err != nil {
		return res, fmt.Errorf("chaptask saturated with ?wait=: %w", err)
	}
	if waited.Cluster, err = top.Cluster.costsSince(ctx, costBefore, len(waited.Latencies)); err != nil {
		return res, err
	}
	res.Rows[1].Saturated = &waited // the ?wait= row
	res.Notes = appendUnexpected(res.Notes, "chaptask saturated with ?wait=", waited)
	res.Notes = append(res.Notes, saturatedNote("chaptask with ?wait=", waited, cfg.Clients)+
		fmt.Sprintf(" (%.1f requests per job)", float64(api.polls.Load()-pollsBefore)/float64(len(waited.Latencies))))

	if sat.Cluster != nil && waited.Cluster != nil {
		res.Notes = append(res.Notes, sat.Cluster.note("chaptask saturated polling"), waited.Cluster.note("chaptask saturated with ?wait="))
	}

	peakRSS := func() ([]namedBytes, error) {
		rss, err := svc.peakRSS()
		if err != nil || top.Cluster == nil {
			return rss, err
		}
		server, err := readPeakRSS(top.Cluster.proc.cmd.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("temporal server: %w", err)
		}
		return append(rss, namedBytes{Name: "temporal server", Bytes: server}), nil
	}
	res.Reads, err = measureReads(ctx, cfg, api, svc, peakRSS, echoID, baseline, prog)
	if err != nil {
		return res, err
	}
	for i := range res.Rows {
		res.Rows[i].Design = top.Label + res.Rows[i].Design
	}
	for i, n := range res.Notes {
		if !strings.HasPrefix(n, top.Label) {
			res.Notes[i] = top.Label + n
		}
	}
	if top.Cluster != nil {
		if err := top.Cluster.alive(); err != nil {
			return res, err
		}
		if top.Cluster.vacuum != nil {
			res.Notes = append(res.Notes, top.Label+top.Cluster.vacuum.note())
		}
	}
	return res, svc.alive()
}

// appendUnexpected notes statuses other than completed.
func appendUnexpected(notes []string, what string, p phase) []string {
	if u := p.unexpected(); u != "" {
		notes = append(notes, fmt.Sprintf("%s: %s (of %d jobs)", what, u, len(p.Latencies)))
	}
	return notes
}
