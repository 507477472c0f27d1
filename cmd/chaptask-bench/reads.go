package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// historyPollEvery is how often the completed count is read while the
	// history is being filled.
	historyPollEvery = time.Second
	// historyStallTimeout ends the wait when the completed count has not
	// moved for this long.
	historyStallTimeout = 2 * time.Minute
	// settleBusy, settleWindow and settleTimeout: the quiet reads wait until
	// the machine spent less than settleBusy cores over a settleWindow (the
	// server's queues and PostgreSQL's autovacuum catch up on the jobs
	// just filled in), for at most settleTimeout.
	settleBusy    = 0.25
	settleWindow  = time.Second
	settleTimeout = 3 * time.Minute
)

// readsResult is the API read test.
type readsResult struct {
	Finished int // completed jobs when the reads began
	// Steps are the quiet reads at each -history-steps count below
	// Finished, smallest first: how the cost grows with the history.
	Steps []historyStep
	// Fill and FillJobs: how long filling the history took (after the
	// last step), for how many jobs.
	Fill     time.Duration
	FillJobs int
	// Quiet are the reads from one reader with nothing else running: the
	// time the service needs to answer, after Settled.
	Quiet   []endpointResult
	Settled settling
	// Endpoints are the reads from cfg.Readers readers while cfg.Submitters
	// clients submit and poll jobs, which saturates the machine.
	Endpoints []endpointResult
	// Sched is the service's goroutine scheduling latency during Endpoints:
	// how long a runnable goroutine waited for a CPU.
	Sched   schedHistogram
	PeakRSS []namedBytes
	// Submitted is how many jobs the background clients ran meanwhile.
	Submitted int
	// LoadErr is the first error of a background client, if any.
	LoadErr error
}

// historyStep is the quiet read test at one size of the history.
type historyStep struct {
	Finished int
	Quiet    []endpointResult
	// Fill is how long submitting and completing the jobs up to this step
	// took.
	Fill     time.Duration
	FillJobs int
	// Settled is how the machine fell quiet before the reads.
	Settled settling
	// PeakRSS is each process's peak RSS so far: how memory grows with
	// the history.
	PeakRSS []namedBytes
}

// endpointResult is the latency of one endpoint.
type endpointResult struct {
	Name      string
	Requested int
	Latency   summary // Latency.N is how many were sent
	Non200    int
}

// measureReads fills the history to cfg.History finished jobs, then times
// reads of a task, a finished job and the first page of jobs: first from
// one reader alone, then from several while background clients keep
// submitting echo jobs of taskID. peakRSS reads the peak RSS of every
// process of the topology.
func measureReads(ctx context.Context, cfg config, api *apiClient, svc *service, peakRSS func() ([]namedBytes, error), taskID string, baseline int, prog *progress) (readsResult, error) {
	var res readsResult
	var endpoints []struct{ name, path string }
	quiet := func() ([]endpointResult, error) {
		var out []endpointResult
		for _, e := range endpoints {
			prog.begin("%s: %d reads from 1 reader (at most %s), nothing else running", e.name, cfg.Reads, cfg.ReadBudget)
			r, err := readEndpoint(ctx, api, e.path, cfg.Reads, 1, cfg.ReadBudget)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.name, err)
			}
			r.Name = e.name
			out = append(out, r)
		}
		return out, nil
	}
	for _, step := range append(slices.Clone(cfg.HistorySteps), cfg.History) {
		began := time.Now()
		submittedBefore := api.submitted.Load()
		if need := step - baseline - int(api.submitted.Load()); need > 0 {
			prog.begin("filling the history: submitting %d echo jobs from %d clients", need, cfg.TopUpClients)
			if err := submitMany(ctx, api, taskID, need, cfg.TopUpClients, prog); err != nil {
				return res, fmt.Errorf("fill history: %w", err)
			}
		}
		target := baseline + int(api.submitted.Load())
		prog.begin("waiting until the API reports %d completed jobs", target)
		finished, err := awaitCompleted(ctx, api, target, prog)
		if err != nil {
			return res, err
		}
		fill, fillJobs := time.Since(began), int(api.submitted.Load()-submittedBefore)
		res.Finished = finished
		_, jobID, err := api.jobsPage(ctx, "completed")
		if err != nil {
			return res, err
		}
		if err := svc.alive(); err != nil {
			return res, err
		}
		prog.begin("waiting until the machine is quiet (below %.2f cores, at most %s)", settleBusy, settleTimeout)
		settled, err := awaitSettled(ctx)
		if err != nil {
			return res, err
		}
		endpoints = []struct{ name, path string }{
			{"GET /tasks/{id}", "/api/v1/tasks/" + taskID},
			{"GET /jobs/{id}", "/api/v1/jobs/" + jobID},
			{"GET /jobs?page=1&size=50", "/api/v1/jobs?page=1&size=50"},
		}
		q, err := quiet()
		if err != nil {
			return res, err
		}
		rss, err := peakRSS()
		if err != nil {
			return res, err
		}
		res.Steps = append(res.Steps, historyStep{Finished: finished, Quiet: q, Fill: fill, FillJobs: fillJobs, Settled: settled, PeakRSS: rss})
	}
	last := res.Steps[len(res.Steps)-1]
	res.Quiet, res.Fill, res.FillJobs, res.Settled, res.Steps = last.Quiet, last.Fill, last.FillJobs, last.Settled, res.Steps[:len(res.Steps)-1]

	loadCtx, stopLoad := context.WithCancel(ctx)
	var (
		wg        sync.WaitGroup
		submitted atomic.Int64
		errOnce   sync.Once
	)
	for range cfg.Submitters {
		wg.Go(func() {
			job := pollJob(api, taskID, backgroundPollEvery)
			for {
				_, err := job(loadCtx)
				if loadCtx.Err() != nil {
					return
				}
				if err != nil {
					errOnce.Do(func() { res.LoadErr = err })
					return
				}
				submitted.Add(1)
			}
		})
	}

	// A binary without the scheduler metrics (-binary of an older build)
	// is still measured; the report says n/a.
	schedBefore, schedErr := api.schedLatencies(ctx)
	for _, e := range endpoints {
		prog.begin("%s: %d reads from %d readers (at most %s), %d clients submitting", e.name, cfg.Reads, cfg.Readers, cfg.ReadBudget, cfg.Submitters)
		r, err := readEndpoint(ctx, api, e.path, cfg.Reads, cfg.Readers, cfg.ReadBudget)
		if err != nil {
			stopLoad()
			wg.Wait()
			return res, fmt.Errorf("%s: %w", e.name, err)
		}
		r.Name = e.name
		res.Endpoints = append(res.Endpoints, r)
	}
	schedAfter, err := api.schedLatencies(ctx)
	stopLoad()
	wg.Wait()
	if schedErr == nil && err == nil {
		res.Sched = schedAfter.since(schedBefore)
	}
	res.Submitted = int(submitted.Load())

	res.PeakRSS, err = peakRSS()
	return res, err
}

// submitMany submits n jobs of the task from clients concurrent clients
// without waiting for them.
func submitMany(ctx context.Context, api *apiClient, taskID string, n, clients int, prog *progress) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next, done atomic.Int64
		wg         sync.WaitGroup
		mu         sync.Mutex
		errs       []error
	)
	stopReport := prog.every(func() string { return fmt.Sprintf("%d/%d submitted", done.Load(), n) })
	defer stopReport()
	for range min(clients, n) {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if _, err := api.execute(ctx, taskID); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					cancel()
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// awaitCompleted waits until the API counts at least target completed jobs
// and returns the count. It gives up when the count stops moving.
func awaitCompleted(ctx context.Context, api *apiClient, target int, prog *progress) (int, error) {
	var seen atomic.Int64
	stopReport := prog.every(func() string { return fmt.Sprintf("%d/%d completed", seen.Load(), target) })
	defer stopReport()
	last, lastMoved := -1, time.Now()
	for {
		n, _, err := api.jobsPage(ctx, "completed")
		if err != nil {
			return 0, err
		}
		seen.Store(int64(n))
		if n >= target {
			return n, nil
		}
		if n != last {
			last, lastMoved = n, time.Now()
		} else if time.Since(lastMoved) > historyStallTimeout {
			failed, _, _ := api.jobsPage(ctx, "failed")
			return n, fmt.Errorf("completed jobs stuck at %d of %d for %s (%d failed)", n, target, historyStallTimeout, failed)
		}
		if err := sleepCtx(ctx, historyPollEvery); err != nil {
			return 0, err
		}
	}
}

// readEndpoint sends n GETs of path from readers concurrent readers, or as
// many as start within budget, and returns their latencies. Answers other
// than 200 are counted, not errors.
func readEndpoint(ctx context.Context, api *apiClient, path string, n, readers int, budget time.Duration) (endpointResult, error) {
	deadline := time.Now().Add(budget)
	var (
		res       = endpointResult{Requested: n}
		next      atomic.Int64
		wg        sync.WaitGroup
		mu        sync.Mutex
		latencies []time.Duration
		firstErr  error
	)
	for range min(readers, n) {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && time.Now().Before(deadline) {
				d, status, err := api.timedGet(ctx, path)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				latencies = append(latencies, d)
				if status != http.StatusOK {
					res.Non200++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Latency = summarize(latencies)
	return res, firstErr
}

// settling is how the machine fell quiet before a set of reads: how long
// the bench waited, and the cores busy in the last window (settleBusy or
// more when it never fell quiet).
type settling struct {
	Waited time.Duration
	Busy   float64
}

// note says how long the reads waited for the machine, and whether it fell
// quiet.
func (s settling) note() string {
	if s.Busy >= settleBusy {
		return fmt.Sprintf(" (the machine never fell quiet: %.2f cores busy after %s)", s.Busy, s.Waited.Round(time.Second))
	}
	return fmt.Sprintf(" (after %s for the machine to fall quiet)", s.Waited.Round(time.Second))
}

// awaitSettled waits until the machine used less than settleBusy cores over
// a settleWindow, for at most settleTimeout.
func awaitSettled(ctx context.Context) (settling, error) {
	began := time.Now()
	for {
		before, err := readMachineBusy()
		if err != nil {
			return settling{}, err
		}
		select {
		case <-ctx.Done():
			return settling{}, ctx.Err()
		case <-time.After(settleWindow):
		}
		after, err := readMachineBusy()
		if err != nil {
			return settling{}, err
		}
		busy := (after - before).Seconds() / settleWindow.Seconds()
		if busy < settleBusy || time.Since(began) >= settleTimeout {
			return settling{Waited: time.Since(began), Busy: busy}, nil
		}
	}
}
