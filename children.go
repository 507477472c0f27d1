package chaptask

import (
	"context"
	"log/slog"

	"github.com/uptrace/bun"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/chaptask/chaptask/activities"
	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/workflows"
)

// childJobs registers on w the activity that cancels a job's child jobs and
// returns what gives each function call its *jobs.Children. The worker
// keeps a jobs.Service of its own, so a worker-only process can run
// functions that start child jobs; it follows the jobs this worker runs, so
// waiting for a child that runs here needs no round trip to Temporal.
func childJobs(w worker.Worker, cfg config, tc client.Client, bdb *bun.DB, local *jobs.LocalRuns, slots jobs.SlotLender, logger *slog.Logger) func(context.Context, activities.JobScope) []any {
	js := jobs.New(tc, bdb, cfg.TemporalNamespace, cfg.TaskQueue, logger)
	js.FollowLocalRuns(local)
	js.RunShortTasksLocally(cfg.LocalRunMax)
	js.LinkConsole(cfg.consoleURL())
	js.LendSlotsWhileWaiting(slots)
	w.RegisterActivityWithOptions(js.CancelChildren, activity.RegisterOptions{Name: workflows.CancelChildrenActivity})
	return func(_ context.Context, scope activities.JobScope) []any {
		return []any{js.ChildrenOf(scope, domain.Policy{ShellDisabled: !cfg.ShellEnabled})}
	}
}
