package main

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// jobFunc runs one job to its end and returns the final status the design
// reports ("completed", "failed", …). An error means the bench could not
// carry the job through (a failed request, a broken connection) and ends the
// measurement.
type jobFunc func(ctx context.Context) (status string, err error)

// cpuFunc reads the CPU times of the processes that do a design's work.
type cpuFunc func() (cpuTimes, error)

// phase is the outcome of running jobs.
type phase struct {
	Latencies []time.Duration
	Statuses  map[string]int
	Wall      time.Duration
	CPU       cpuTimes
	// Machine is the CPU time every process of the machine spent during
	// a saturated run: the design, the bench's clients and anything else.
	Machine time.Duration
	// Cluster is the Temporal server's and PostgreSQL's share, per job,
	// when the bench runs the server (the production topology).
	Cluster *clusterCost
}

// perJob divides the phase's CPU times by its number of jobs.
func (p phase) perJob() cpuTimes {
	n := time.Duration(max(len(p.Latencies), 1))
	return cpuTimes{Self: p.CPU.Self / n, Children: p.CPU.Children / n}
}

// jobsPerSecond is the phase's throughput over its wall time.
func (p phase) jobsPerSecond() float64 {
	if p.Wall <= 0 {
		return 0
	}
	return float64(len(p.Latencies)) / p.Wall.Seconds()
}

// unexpected describes statuses other than completed, or "" if there are none.
func (p phase) unexpected() string {
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(p.Statuses)) {
		if s != "completed" {
			parts = append(parts, fmt.Sprintf("%d %s", p.Statuses[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

// saturatedNote describes a saturated run beyond the table: its job
// latency and how busy the machine was.
func saturatedNote(design string, p phase, clients int) string {
	lat := summarize(p.Latencies)
	wall := p.Wall.Seconds()
	return fmt.Sprintf("%s saturated: job latency p50 %s, p99 %s with %d clients; machine CPU busy %.2f of %d cores, the design's process(es) and their shells %.2f",
		design, ms(lat.P50), ms(lat.P99), clients, p.Machine.Seconds()/wall, runtime.NumCPU(), (p.CPU.Self+p.CPU.Children).Seconds()/wall)
}

// runSerial runs warmup jobs, then n measured jobs, one at a time.
func runSerial(ctx context.Context, warmup, n int, job jobFunc, prog *progress) (phase, error) {
	p := phase{Statuses: map[string]int{}}
	var done atomic.Int64
	stopReport := prog.every(func() string { return fmt.Sprintf("%d/%d jobs", done.Load(), n) })
	defer stopReport()
	for i := range warmup + n {
		start := time.Now()
		status, err := job(ctx)
		if err != nil {
			return p, err
		}
		if i < warmup {
			continue
		}
		p.Latencies = append(p.Latencies, time.Since(start))
		p.Statuses[status]++
		done.Add(1)
	}
	return p, nil
}

// runSaturated runs n jobs from clients concurrent clients, each starting
// its next job when the previous one has ended, and measures the wall time
// and the CPU time cpu reports over the whole run.
func runSaturated(ctx context.Context, n, clients int, job jobFunc, cpu cpuFunc, prog *progress) (phase, error) {
	p := phase{Statuses: map[string]int{}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		next     atomic.Int64
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	var done atomic.Int64
	stopReport := prog.every(func() string { return fmt.Sprintf("%d/%d jobs", done.Load(), n) })
	defer stopReport()

	before, err := cpu()
	if err != nil {
		return p, err
	}
	machineBefore, err := readMachineBusy()
	if err != nil {
		return p, err
	}
	began := time.Now()
	for range min(clients, n) {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				start := time.Now()
				status, err := job(ctx)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
					return
				}
				p.Latencies = append(p.Latencies, time.Since(start))
				p.Statuses[status]++
				mu.Unlock()
				done.Add(1)
			}
		})
	}
	wg.Wait()
	p.Wall = time.Since(began)
	if firstErr != nil {
		return p, firstErr
	}
	after, err := cpu()
	if err != nil {
		return p, err
	}
	machineAfter, err := readMachineBusy()
	if err != nil {
		return p, err
	}
	p.CPU = after.sub(before)
	p.Machine = machineAfter - machineBefore
	return p, nil
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
