// Command chaptask-bench measures chaptask as its users see it and sets the
// figures beside two references, in one table:
//
//   - chaptask through HTTP: the real binary, built from this module (or
//     -binary), started as a subprocess with a fresh data directory (embedded
//     Temporal and SQLite by default; -database-url, -temporal-address and
//     -workers change that). Serial latency is submit
//     (POST /api/v1/tasks/{id}/$execute) until the API reports the job
//     completed, polled every millisecond (the primary figure), awaited with
//     one GET ?wait= (echo only) or followed on the job's Server-Sent Events
//     stream, for a shell task (echo hi) and a function task (calculate_sum).
//     Saturated throughput is many clients each submitting an echo job and
//     awaiting it before the next, once polling every -poll-every (100 ms) and once with
//     ?wait=; CPU per job is the chaptask processes' own CPU (utime+stime from
//     /proc) over that phase, and separately the CPU of the shell commands
//     they ran and reaped. API reads are timed with the history filled up to
//     -history finished jobs, alone and while background clients keep
//     submitting; the reads from one reader first wait for the machine to
//     fall quiet, and each history step reports every process's peak RSS.
//
//   - reference A, the naive design: the same activities as chaptask run as
//     three regular activities by a workflow of the bench's own, on an
//     embedded server with Temporal's default dynamic config, started
//     without eager start and awaited with the SDK, all inside the bench
//     process; its CPU is the bench process's, server and worker included,
//     the same layout as chaptask's embedded mode.
//
//   - reference B, the raw work without Temporal: read the task, run
//     /bin/sh -c "echo hi", persist the artifact, in the bench process.
//
//   - with -production, the production topology as well, in the same run:
//     the bench builds the Temporal server from the go.temporal.io/server
//     module in go.mod (cached), creates its databases and chaptask's on the
//     PostgreSQL server of -database-url, starts it with -shards shards and
//     the dynamic config of -dynamic-config (Temporal's defaults when
//     empty) and the visibility table tuned as deploy/temporal says (unless
//     -untuned-visibility), runs chaptask on both, and drops the databases
//     at the end.
//     Its rows are prefixed "production:"; their saturated rows add the
//     Temporal server's CPU, the CPU of the PostgreSQL backends serving the
//     bench's databases (from /proc, so the server must be local) and the
//     total per job, and the notes give commits (pg_stat_database) and
//     persistence requests by operation (the server's metrics) per job.
//
// Reading the table: "serial" columns are latencies of one job at a time
// (nearest-rank percentiles after a warm-up); "saturated" columns are the
// jobs completed per second of wall time with -clients jobs in flight and the
// CPU spent per job. The ratios line divides chaptask's echo figures (of
// the polling and of the ?wait= clients) by each reference's: below 1 is
// better for latency and CPU, above 1 for jobs/s.
// This is a benchmark, not a test: it asserts nothing about time, and on a
// shared machine the figures move with whatever else runs.
//
// Counts (default / -quick): serial 200 / 50 jobs per row after 20 / 5
// warm-up jobs; saturated 2000 / 300 chaptask jobs and 1000 / 300 jobs per
// reference, from 50 clients; history 10000 / 1000 finished jobs; 1000 / 200
// reads per endpoint, first from 1 reader with nothing else running, then
// from 4 readers while 10 clients submit and poll jobs (each pass stopped
// after 30 s / 15 s per endpoint, which the report says); during the
// second pass the service's Go scheduling latency is read from its
// /metrics. Filling the history takes most of a default run.
//
// Usage:
//
//	go run ./cmd/chaptask-bench [-quick] [-serial N] [-saturated N]
//	    [-reference-saturated N] [-clients N] [-history N] [-max-concurrency N]
//	    [-skip-references] [-database-url URL]
//	    [-temporal-address HOST:PORT] [-workers N] [-binary PATH]
//	    [-poll-every D] [-history-steps N,...]
//	    [-production [-skip-embedded] [-dynamic-config FILE] [-shards N]
//	     [-db-prefix P] [-port-base PORT] [-server-profile FILE]]
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal the bench cleans up; a second one kills it.
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args, os.Environ(), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chaptask-bench:", err)
		os.Exit(1)
	}
}
