// Package tasks is the domain layer under the API for tasks: it owns every
// rule of a task — whether it may be stored (its type allowed here),
// whether it may run or be scheduled (enabled, shell allowed), whether the
// API may change it (read-only) — and carries each change to the task's
// schedules. It returns domain errors; the API only decodes, calls and
// encodes.
//
// The shell rule itself is domain.Policy.AllowsShell; this package applies
// it to every way a task is created, run, scheduled or run again, and the
// worker (activities) applies it once more to what it is asked to run.
package tasks

import (
	"context"
	"log/slog"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/metrics"
)

// Config holds what the service needs.
type Config struct {
	// DB stores tasks.
	DB bun.IDB
	// Jobs runs tasks and keeps their schedules; nil in a process that
	// does not execute (its calls answer domain.Unavailable).
	Jobs *jobs.Service
	// Policy is what this deployment allows.
	Policy domain.Policy
	// Metrics counts submitted jobs; nil counts none.
	Metrics *metrics.Metrics
	// Logger receives failures to follow a task change in its schedules;
	// nil discards them.
	Logger *slog.Logger
}

// Service applies the task rules. Its methods take the context of the
// request they serve.
type Service struct {
	db      bun.IDB
	jobs    *jobs.Service
	policy  domain.Policy
	metrics *metrics.Metrics
	logger  *slog.Logger
}

// New returns the tasks service of cfg.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{db: cfg.DB, jobs: cfg.Jobs, policy: cfg.Policy, metrics: cfg.Metrics, logger: cfg.Logger}
}

// Writable reports, as a domain.ReadOnly error, that tasks may not be
// changed through the API here; nil when they may.
func (s *Service) Writable() error {
	if s.policy.TasksReadOnly {
		return domain.Errorf(domain.ReadOnly, "tasks are read-only in this deployment (CHAPTASK_TASKS_READ_ONLY)")
	}
	return nil
}

// Admit checks that a task may be stored under policy: its type is allowed
// here. The API and the tasks file both ask it.
func Admit(policy domain.Policy, t *db.Task) error {
	if !policy.AllowsShell(t.TaskType) {
		return &domain.Error{
			Code:    domain.Invalid,
			Field:   []string{"body", "task_type"},
			Message: "shell tasks are disabled in this deployment (CHAPTASK_SHELL_ENABLED=false)",
			Reason:  "value_error.shell_disabled",
		}
	}
	return nil
}

// Get returns the task with the given id.
func (s *Service) Get(ctx context.Context, id string) (*db.Task, error) {
	t, err := db.GetTask(ctx, s.db, id)
	if err != nil {
		return nil, taskNotFound(err, id)
	}
	return t, nil
}

// List returns the tasks filter selects and, when count is true, how many
// there are in all.
func (s *Service) List(ctx context.Context, filter db.TaskFilter, count bool) ([]db.Task, int, error) {
	list, err := db.ListTasks(ctx, s.db, filter)
	if err != nil || !count {
		return list, len(list), err
	}
	total, err := db.CountTasks(ctx, s.db, filter)
	return list, total, err
}

// Replace stores t over the task of the same id, and carries the change to
// the task's schedules.
func (s *Service) Replace(ctx context.Context, t *db.Task) error {
	if err := s.Writable(); err != nil {
		return err
	}
	if err := Admit(s.policy, t); err != nil {
		return err
	}
	if err := db.ReplaceTask(ctx, s.db, t); err != nil {
		return taskNotFound(err, t.ID)
	}
	s.followSchedules(ctx, t.ID, func() error { return s.jobs.SyncTaskSchedules(ctx, t) })
	return nil
}

// Delete removes the task (its artifacts stay) and its schedules.
func (s *Service) Delete(ctx context.Context, id string) error {
	if err := s.Writable(); err != nil {
		return err
	}
	if err := db.DeleteTask(ctx, s.db, id); err != nil {
		return taskNotFound(err, id)
	}
	s.followSchedules(ctx, id, func() error { return s.jobs.DeleteTaskSchedules(ctx, id) })
	return nil
}

// followSchedules carries a task change to its schedules. The task change
// stands if Temporal cannot be reached: the job workflow never runs a
// disabled task from a schedule, and the failure is logged.
func (s *Service) followSchedules(ctx context.Context, taskID string, sync func() error) {
	if s.jobs == nil {
		return
	}
	if err := sync(); err != nil {
		s.logger.WarnContext(ctx, "could not update the task's schedules", "task_id", taskID, "error", err)
	}
}

// taskNotFound names the task a lookup did not find.
func taskNotFound(err error, id string) error {
	if domain.CodeOf(err) == domain.NotFound {
		return &domain.Error{Code: domain.NotFound, Message: "Task " + id + " not found", Err: err}
	}
	return err
}

// ErrNoExecution answers a call that needs job execution in a process
// configured without it (an API without Temporal).
var ErrNoExecution = domain.Errorf(domain.Unavailable, "job execution is not configured in this process")

func (s *Service) needJobs() error {
	if s.jobs == nil {
		return ErrNoExecution
	}
	return nil
}
