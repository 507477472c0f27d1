package tasks

import (
	"context"
	"errors"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/workflows"
)

// runnable is the rule for starting a task, now or from a schedule: it
// must be enabled, and allowed here. action is the verb the refusal
// names ("execute", "schedule").
func (s *Service) runnable(t *db.Task, action string) error {
	switch {
	case !t.Enabled:
		return domain.Errorf(domain.Refused, "Cannot %s disabled task %s", action, t.ID)
	case !s.policy.AllowsShell(t.TaskType):
		return domain.Errorf(domain.Refused, "Cannot %s shell task %s: shell tasks are disabled in this deployment", action, t.ID)
	}
	return nil
}

// Execute starts a job of the task with the given id. With a key, a
// repeated call answers the job the first one started (existed), even once
// the task can no longer run, as long as that job exists.
func (s *Service) Execute(ctx context.Context, id, key string, overrides *workflows.RunOverrides) (jobID string, existed bool, err error) {
	if err := s.needJobs(); err != nil {
		return "", false, err
	}
	task, err := db.GetTask(ctx, s.db, id)
	switch {
	case errors.Is(err, db.ErrNotFound):
		// chapkit answers an unknown task to run with 400, not 404.
		err = domain.Errorf(domain.Refused, "Task %s not found", id)
	case err == nil:
		err = s.runnable(task, "execute")
	}
	if err != nil {
		if key != "" {
			if jobID, ok := s.jobs.KeyedJobExists(ctx, id, key); ok {
				return jobID, true, nil
			}
		}
		return "", false, err
	}
	if key != "" {
		jobID, existed, err = s.jobs.SubmitKeyed(ctx, task, key, overrides)
	} else {
		jobID, err = s.jobs.Submit(ctx, task, overrides)
	}
	if err != nil {
		return "", false, err
	}
	if !existed {
		s.metrics.JobSubmitted(task.TaskType)
	}
	return jobID, existed, nil
}

// Rerun starts a new job from the task snapshot job id ran, with the
// overrides applied over it.
func (s *Service) Rerun(ctx context.Context, id string, overrides *workflows.RunOverrides) (string, error) {
	if err := s.needJobs(); err != nil {
		return "", err
	}
	snap, err := s.jobs.Snapshot(ctx, id)
	switch {
	case errors.Is(err, jobs.ErrNoSnapshot):
		return "", &domain.Error{Code: domain.Conflict, Err: err,
			Message: "Job " + id + " has no task snapshot to run again: its task was deleted before the job ran"}
	case err != nil:
		return "", jobNotFound(err, id)
	case !s.policy.AllowsShell(snap.TaskType):
		return "", domain.Errorf(domain.Refused, "Cannot rerun job %s: it ran shell task %s and shell tasks are disabled in this deployment", id, snap.ID)
	}
	if overrides != nil {
		over := snap.WithOverrides(*overrides)
		snap = &over
	}
	jobID, err := s.jobs.Rerun(ctx, id, snap)
	if err != nil {
		return "", jobNotFound(err, id)
	}
	s.metrics.JobSubmitted(snap.TaskType)
	return jobID, nil
}

// jobNotFound names the job a lookup did not find.
func jobNotFound(err error, id string) error {
	if domain.CodeOf(err) == domain.NotFound {
		return &domain.Error{Code: domain.NotFound, Message: "Job " + id + " not found", Err: err}
	}
	return err
}
