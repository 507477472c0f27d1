package tasks

import (
	"context"
	"errors"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/jobs"
)

// A schedule follows its task: it is created only for a task that may run,
// it is paused while its task is disabled (Replace) and deleted with it
// (Delete), and it is unpaused or triggered only while its task may run.

// Schedule creates a schedule of the task with the given id.
func (s *Service) Schedule(ctx context.Context, id string, spec jobs.ScheduleSpec, overlap string, paused bool) (*jobs.Schedule, error) {
	if err := s.needJobs(); err != nil {
		return nil, err
	}
	task, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.runnable(task, "schedule"); err != nil {
		return nil, err
	}
	return s.jobs.CreateSchedule(ctx, task, spec, overlap, paused)
}

// Schedules lists the schedules of the task with the given id.
func (s *Service) Schedules(ctx context.Context, id string) ([]jobs.Schedule, error) {
	if err := s.needJobs(); err != nil {
		return nil, err
	}
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	return s.jobs.TaskSchedules(ctx, id)
}

// ChangeSchedule pauses, unpauses, changes the spec or overlap of, and
// triggers the schedule with the given id, in that order.
func (s *Service) ChangeSchedule(ctx context.Context, id string, change jobs.ScheduleChange, trigger bool) (*jobs.Schedule, error) {
	if err := s.needJobs(); err != nil {
		return nil, err
	}
	sch, err := s.jobs.GetSchedule(ctx, id)
	if err != nil {
		return nil, scheduleNotFound(err, id)
	}
	if (change.Paused != nil && !*change.Paused) || trigger {
		if err := s.mayFire(ctx, id, sch.TaskID, trigger); err != nil {
			return nil, err
		}
	}
	if change.Spec != nil || change.Overlap != nil || change.Paused != nil {
		if sch, err = s.jobs.UpdateSchedule(ctx, id, change); err != nil {
			return nil, scheduleNotFound(err, id)
		}
	}
	if trigger {
		if sch, err = s.jobs.TriggerSchedule(ctx, id); err != nil {
			return nil, scheduleNotFound(err, id)
		}
	}
	return sch, nil
}

// mayFire is the rule for letting a schedule start jobs again (unpause) or
// now (trigger): a schedule of a disabled task stays paused until the task
// is enabled again, and is not triggered; nor is one of a shell task while
// shell tasks are disabled.
func (s *Service) mayFire(ctx context.Context, id, taskID string, trigger bool) error {
	action := "unpause"
	if trigger {
		action = "trigger"
	}
	task, err := db.GetTask(ctx, s.db, taskID)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return domain.Errorf(domain.Refused, "Task %s of schedule %s no longer exists", taskID, id)
	case err != nil:
		return err
	case !task.Enabled:
		return domain.Errorf(domain.Refused, "Cannot %s schedule %s: task %s is disabled", action, id, taskID)
	case !s.policy.AllowsShell(task.TaskType):
		return domain.Errorf(domain.Refused, "Cannot %s schedule %s: task %s is a shell task and shell tasks are disabled in this deployment (CHAPTASK_SHELL_ENABLED=false)", action, id, taskID)
	}
	return nil
}

// DeleteSchedule deletes the schedule with the given id.
func (s *Service) DeleteSchedule(ctx context.Context, id string) error {
	if err := s.needJobs(); err != nil {
		return err
	}
	return scheduleNotFound(s.jobs.DeleteSchedule(ctx, id), id)
}

// GetSchedule returns the schedule with the given id.
func (s *Service) GetSchedule(ctx context.Context, id string) (*jobs.Schedule, error) {
	if err := s.needJobs(); err != nil {
		return nil, err
	}
	sch, err := s.jobs.GetSchedule(ctx, id)
	return sch, scheduleNotFound(err, id)
}

// scheduleNotFound names the schedule a lookup did not find.
func scheduleNotFound(err error, id string) error {
	if domain.CodeOf(err) == domain.NotFound {
		return &domain.Error{Code: domain.NotFound, Message: "Schedule " + id + " not found", Err: err}
	}
	return err
}
