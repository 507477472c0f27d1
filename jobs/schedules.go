package jobs

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/workflows"
)

// Overlap policies of a schedule: what happens when a run is due while the
// previous one still runs.
const (
	OverlapSkip      = "skip"
	OverlapBufferOne = "buffer_one"
	OverlapAllowAll  = "allow_all"
)

// OverlapPolicies lists every overlap policy, for validation.
var OverlapPolicies = []string{OverlapSkip, OverlapBufferOne, OverlapAllowAll}

var overlapToTemporal = map[string]enumspb.ScheduleOverlapPolicy{
	OverlapSkip:      enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	OverlapBufferOne: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE,
	OverlapAllowAll:  enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
}

// ErrScheduleNotFound means no schedule of chaptask has the id.
var ErrScheduleNotFound = &domain.Error{Code: domain.NotFound, Message: "schedule not found"}

// invalidSchedule is a spec refused (by us or by Temporal), naming the
// body field that carried it.
func invalidSchedule(field, message string) error {
	return &domain.Error{Code: domain.Invalid, Field: []string{"body", field}, Message: message, Reason: "value_error." + field}
}

// ScheduleSpec says when a schedule fires: exactly one of its fields is set.
type ScheduleSpec struct {
	// Cron is a cron expression as Temporal reads it (5 to 7 fields, an
	// optional CRON_TZ= prefix, @daily and the like), in UTC unless it
	// names a time zone.
	Cron string
	// IntervalSeconds fires every that many seconds, at multiples of the
	// interval since the Unix epoch.
	IntervalSeconds int64
	// RunAt fires once, at that second.
	RunAt time.Time
}

// ScheduleRun is one run a schedule started.
type ScheduleRun struct {
	JobID string `json:"job_id"`
	// ScheduledAt is the nominal time the spec named for the run.
	ScheduledAt time.Time `json:"scheduled_at"`
	// StartedAt is when the schedule started the job: the job's
	// submitted_at, read from the job itself.
	StartedAt time.Time `json:"started_at"`

	runID string // the job's first run, for describing it
}

// Schedule is a schedule as the API shows it.
type Schedule struct {
	ID              string        `json:"id"`
	TaskID          string        `json:"task_id"`
	Cron            *string       `json:"cron,omitempty"`
	IntervalSeconds *int64        `json:"interval_seconds,omitempty"`
	RunAt           *time.Time    `json:"run_at,omitempty"`
	Overlap         string        `json:"overlap"`
	Paused          bool          `json:"paused"`
	NextRunAt       *time.Time    `json:"next_run_at"`
	RecentRuns      []ScheduleRun `json:"recent_runs"`
	CreatedAt       time.Time     `json:"created_at"`
	UpdatedAt       time.Time     `json:"updated_at"`
	// TriggeredJobID is the job a trigger started, when it was seen in time.
	TriggeredJobID *string `json:"triggered_job_id,omitempty"`
}

// ScheduleChange is a partial update; nil fields stay as they are.
type ScheduleChange struct {
	Spec    *ScheduleSpec
	Overlap *string
	Paused  *bool
}

// Markers in the calendar comment that keep the spec as the user wrote it:
// Temporal stores cron expressions as structured calendars and would
// otherwise describe "0 2 * * *" back as ranges.
const (
	cronComment  = "cron: "
	runAtComment = "run_at: "
)

var scheduleTaskIDKey = taskIDKey

// temporalSpec turns spec into Temporal's form.
func temporalSpec(spec ScheduleSpec) (client.ScheduleSpec, error) {
	switch {
	case spec.Cron != "":
		// Temporal cuts the comment at '#' and keeps the rest; the API
		// refuses '#' in expressions, so this round-trips exactly.
		return client.ScheduleSpec{CronExpressions: []string{spec.Cron + " #" + cronComment + spec.Cron}}, nil
	case spec.IntervalSeconds > 0:
		return client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Duration(spec.IntervalSeconds) * time.Second}}}, nil
	case !spec.RunAt.IsZero():
		at := spec.RunAt.UTC()
		one := func(v int) []client.ScheduleRange { return []client.ScheduleRange{{Start: v}} }
		return client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{{
			Second:     one(at.Second()),
			Minute:     one(at.Minute()),
			Hour:       one(at.Hour()),
			DayOfMonth: one(at.Day()),
			Month:      one(int(at.Month())),
			Year:       one(at.Year()),
			DayOfWeek:  []client.ScheduleRange{{Start: 0, End: 6}},
			Comment:    runAtComment + at.Format(time.RFC3339),
		}}}, nil
	}
	return client.ScheduleSpec{}, invalidSchedule("cron", "one of cron, interval_seconds or run_at is required")
}

// specField names the request field that carried spec.
func specField(spec ScheduleSpec) string {
	switch {
	case spec.IntervalSeconds > 0:
		return "interval_seconds"
	case !spec.RunAt.IsZero():
		return "run_at"
	}
	return "cron"
}

// action is what every firing of the schedule starts: an ordinary job of
// task. Temporal names each run <schedule id>-<nominal time, RFC 3339>.
func (s *Service) action(scheduleID string, task *db.Task) *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:        scheduleID,
		Workflow:  workflows.ExecuteTaskWorkflow,
		Args:      []any{workflows.ExecuteInput{TaskID: task.ID, ScheduleID: scheduleID}},
		TaskQueue: s.taskQueue,
		// A run's job id is known only when it fires, so its link goes to
		// the task, which lists the schedule's jobs.
		StaticSummary: Summary(task.TaskType, task.Command),
		StaticDetails: s.details(task.ID, "tasks/"+task.ID),
		TypedSearchAttributes: temporal.NewSearchAttributes(
			taskIDKey.ValueSet(task.ID),
			taskTypeKey.ValueSet(task.TaskType),
			commandKey.ValueSet(truncateRunes(task.Command, maxSearchAttrLen)),
		),
	}
}

// CreateSchedule creates a schedule running task and returns it.
func (s *Service) CreateSchedule(ctx context.Context, task *db.Task, spec ScheduleSpec, overlap string, paused bool) (*Schedule, error) {
	tspec, err := temporalSpec(spec)
	if err != nil {
		return nil, err
	}
	policy, ok := overlapToTemporal[overlap]
	if !ok {
		return nil, invalidSchedule("overlap", "must be one of "+strings.Join(OverlapPolicies, ", "))
	}
	id := db.NewID()
	opts := client.ScheduleOptions{
		ID:      id,
		Spec:    tspec,
		Action:  s.action(id, task),
		Overlap: policy,
		Paused:  paused,
		// The schedule's own attribute lets the task's schedules be listed
		// with one visibility query.
		TypedSearchAttributes: temporal.NewSearchAttributes(scheduleTaskIDKey.ValueSet(task.ID)),
	}
	if !spec.RunAt.IsZero() {
		opts.RemainingActions = 1
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	handle, err := s.client.ScheduleClient().Create(cctx, opts)
	if err != nil {
		return nil, s.scheduleError(err, specField(spec), "create schedule for task %s", task.ID)
	}
	if spec.Cron != "" {
		if err := s.refuseNeverFiring(ctx, id); err != nil {
			// Nothing can have run: the schedule has no time to fire at.
			if derr := handle.Delete(cctx); derr != nil {
				return nil, s.scheduleError(derr, "", "delete schedule %s that never fires", id)
			}
			return nil, err
		}
	}
	return s.GetSchedule(ctx, id)
}

// refuseNeverFiring is an invalidSchedule error when Temporal finds no future
// time for the schedule's cron expression, such as "0 0 31 2 *" (February
// has no 31st): Temporal accepts those and would keep them forever with
// next_run_at null. It counts paused schedules too.
func (s *Service) refuseNeverFiring(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	desc, err := s.client.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	if err != nil {
		return s.scheduleError(err, "", "describe schedule %s", id)
	}
	if len(desc.Info.NextActionTimes) == 0 {
		return invalidSchedule("cron", "never fires: no future time matches the expression")
	}
	return nil
}

// scheduleError classifies a Temporal error about a schedule: a spec it
// refused names field, an unknown schedule is ErrScheduleNotFound.
func (s *Service) scheduleError(err error, field string, format string, args ...any) error {
	var invalid *serviceerror.InvalidArgument
	if field != "" && errors.As(err, &invalid) {
		return invalidSchedule(field, invalid.Message)
	}
	err = s.wrap(err, format, args...)
	if errors.Is(err, ErrNotFound) {
		return ErrScheduleNotFound
	}
	return err
}

// GetSchedule describes the schedule.
func (s *Service) GetSchedule(ctx context.Context, id string) (*Schedule, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	desc, err := s.client.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	if err != nil {
		return nil, s.scheduleError(err, "", "describe schedule %s", id)
	}
	sch, ok := scheduleFromDescription(id, desc)
	if !ok {
		return nil, ErrScheduleNotFound // another schedule sharing the namespace
	}
	s.runStarts(ctx, sch.RecentRuns)
	return sch, nil
}

// runStarts sets each run's start to its job's submitted_at. The scheduler
// records its own clock reading a moment before it starts the job, so
// without this one run would show two different start times. A job that
// cannot be described (deleted since) keeps the scheduler's time.
func (s *Service) runStarts(ctx context.Context, runs []ScheduleRun) {
	for i := range runs {
		desc, err := s.client.DescribeWorkflowExecution(ctx, runs[i].JobID, runs[i].runID)
		if err != nil {
			continue
		}
		if st := desc.GetWorkflowExecutionInfo().GetStartTime(); st != nil {
			runs[i].StartedAt = micro(st.AsTime())
		}
	}
}

// scheduleFromDescription reads a schedule of ours; ok is false for any
// other schedule in the namespace.
func scheduleFromDescription(id string, desc *client.ScheduleDescription) (*Schedule, bool) {
	in, ok := actionInput(desc.Schedule.Action)
	if !ok || in.ScheduleID != id {
		return nil, false
	}
	sch := &Schedule{
		ID:         id,
		TaskID:     in.TaskID,
		Overlap:    OverlapSkip,
		RecentRuns: []ScheduleRun{},
		CreatedAt:  micro(desc.Info.CreatedAt),
		UpdatedAt:  micro(desc.Info.CreatedAt),
	}
	// A schedule never updated has no update time, which the SDK turns into
	// the Unix epoch rather than a zero time.
	if desc.Info.LastUpdateAt.After(desc.Info.CreatedAt) {
		sch.UpdatedAt = micro(desc.Info.LastUpdateAt)
	}
	if p := desc.Schedule.Policy; p != nil {
		for name, v := range overlapToTemporal {
			if v == p.Overlap {
				sch.Overlap = name
			}
		}
	}
	if st := desc.Schedule.State; st != nil {
		sch.Paused = st.Paused
	}
	readSpec(sch, desc.Schedule.Spec)
	if !sch.Paused && len(desc.Info.NextActionTimes) > 0 {
		next := micro(desc.Info.NextActionTimes[0])
		sch.NextRunAt = &next
	}
	for _, a := range desc.Info.RecentActions {
		if a.StartWorkflowResult == nil {
			continue
		}
		sch.RecentRuns = append(sch.RecentRuns, ScheduleRun{
			JobID:       a.StartWorkflowResult.WorkflowID,
			ScheduledAt: micro(a.ScheduleTime),
			StartedAt:   micro(a.ActualTime), // until runStarts reads the job's
			runID:       a.StartWorkflowResult.FirstExecutionRunID,
		})
	}
	return sch, true
}

// actionInput decodes the job input of a schedule that starts chaptask jobs.
func actionInput(action client.ScheduleAction) (workflows.ExecuteInput, bool) {
	var in workflows.ExecuteInput
	wa, ok := action.(*client.ScheduleWorkflowAction)
	if !ok || len(wa.Args) != 1 {
		return in, false
	}
	if name, _ := wa.Workflow.(string); name != workflows.ExecuteTaskWorkflow {
		return in, false
	}
	p, ok := wa.Args[0].(*commonpb.Payload)
	if !ok || converter.GetDefaultDataConverter().FromPayload(p, &in) != nil || in.TaskID == "" {
		return in, false
	}
	return in, true
}

// readSpec fills the spec fields of sch from Temporal's form.
func readSpec(sch *Schedule, spec *client.ScheduleSpec) {
	if spec == nil {
		return
	}
	for _, cal := range spec.Calendars {
		if c, ok := strings.CutPrefix(cal.Comment, cronComment); ok {
			sch.Cron = &c
			return
		}
		if raw, ok := strings.CutPrefix(cal.Comment, runAtComment); ok {
			if at, err := time.Parse(time.RFC3339, raw); err == nil {
				at = at.UTC()
				sch.RunAt = &at
				return
			}
		}
	}
	if len(spec.Intervals) > 0 {
		secs := int64(spec.Intervals[0].Every / time.Second)
		sch.IntervalSeconds = &secs
	}
}

// maxSchedulesListed bounds how many schedules of one task are read.
const maxSchedulesListed = 1000

// TaskSchedules returns the schedules of a task, oldest first. Visibility
// is eventually consistent: a schedule created a moment ago may be missing.
func (s *Service) TaskSchedules(ctx context.Context, taskID string) ([]Schedule, error) {
	ids, err := s.taskScheduleIDs(ctx, taskID)
	if err != nil {
		return nil, err
	}
	// The list entries lack the overlap policy and the spec as written, so
	// each schedule is described: one call per schedule, a few at a time.
	found := make([]*Schedule, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, describeParallelism)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			found[i], errs[i] = s.GetSchedule(ctx, id)
		}()
	}
	wg.Wait()
	out := make([]Schedule, 0, len(ids))
	for i := range ids {
		switch {
		case errors.Is(errs[i], ErrScheduleNotFound): // deleted meanwhile
		case errs[i] != nil:
			return nil, errs[i]
		case found[i].TaskID == taskID:
			out = append(out, *found[i])
		}
	}
	// Ids are ULIDs: their order is creation order.
	slices.SortFunc(out, func(a, b Schedule) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// taskScheduleIDs lists the ids of the task's schedules from visibility.
func (s *Service) taskScheduleIDs(ctx context.Context, taskID string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	iter, err := s.client.ScheduleClient().List(ctx, client.ScheduleListOptions{
		PageSize: 1000,
		Query:    workflows.SearchAttrTaskID + " = '" + taskID + "'",
	})
	if err != nil {
		return nil, s.wrap(err, "list schedules of task %s", taskID)
	}
	var ids []string
	for iter.HasNext() && len(ids) < maxSchedulesListed {
		e, err := iter.Next()
		if err != nil {
			return nil, s.wrap(err, "list schedules of task %s", taskID)
		}
		if e.WorkflowType.Name == workflows.ExecuteTaskWorkflow {
			ids = append(ids, e.ID)
		}
	}
	return ids, nil
}

// UpdateSchedule applies change and returns the schedule.
func (s *Service) UpdateSchedule(ctx context.Context, id string, change ScheduleChange) (*Schedule, error) {
	if change.Spec != nil || change.Overlap != nil {
		if err := s.updateSchedule(ctx, id, change); err != nil {
			return nil, err
		}
	} else if change.Paused != nil {
		if err := s.setPaused(ctx, id, *change.Paused, "paused through the chaptask API"); err != nil {
			return nil, err
		}
	}
	return s.GetSchedule(ctx, id)
}

func (s *Service) updateSchedule(ctx context.Context, id string, change ScheduleChange) error {
	var spec client.ScheduleSpec
	field := ""
	if change.Spec != nil {
		var err error
		if spec, err = temporalSpec(*change.Spec); err != nil {
			return err
		}
		field = specField(*change.Spec)
	}
	var policy enumspb.ScheduleOverlapPolicy
	if change.Overlap != nil {
		var ok bool
		if policy, ok = overlapToTemporal[*change.Overlap]; !ok {
			return invalidSchedule("overlap", "must be one of "+strings.Join(OverlapPolicies, ", "))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	handle := s.client.ScheduleClient().GetHandle(ctx, id)
	var before client.Schedule // as it was, to undo a spec that never fires
	err := handle.Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			sch := in.Description.Schedule
			if err := ours(id, sch.Action); err != nil {
				return nil, err
			}
			if sch.Policy == nil {
				sch.Policy = &client.SchedulePolicies{}
			}
			if sch.State == nil {
				sch.State = &client.ScheduleState{}
			}
			before = sch
			before.State, before.Policy = new(*sch.State), new(*sch.Policy)
			if change.Spec != nil {
				sch.Spec = &spec
				sch.State.LimitedActions = !change.Spec.RunAt.IsZero()
				sch.State.RemainingActions = 0
				if sch.State.LimitedActions {
					sch.State.RemainingActions = 1
				}
			}
			if change.Overlap != nil {
				sch.Policy.Overlap = policy
			}
			if change.Paused != nil {
				sch.State.Paused = *change.Paused
			}
			reencodeArgs(sch.Action)
			return &client.ScheduleUpdate{Schedule: &sch}, nil
		},
	})
	if err != nil {
		if errors.Is(err, ErrScheduleNotFound) {
			return err
		}
		return s.scheduleError(err, field, "update schedule %s", id)
	}
	if change.Spec == nil || change.Spec.Cron == "" {
		return nil
	}
	refused := s.refuseNeverFiring(ctx, id)
	if refused == nil {
		return nil
	}
	// Put the old spec back; the new one cannot have fired.
	err = handle.Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			sch := in.Description.Schedule
			sch.Spec, sch.Policy, sch.State = before.Spec, before.Policy, before.State
			reencodeArgs(sch.Action)
			return &client.ScheduleUpdate{Schedule: &sch}, nil
		},
	})
	if err != nil {
		return s.scheduleError(err, "", "restore schedule %s after a spec that never fires", id)
	}
	return refused
}

// ours refuses to touch a schedule chaptask did not create.
func ours(id string, action client.ScheduleAction) error {
	if in, ok := actionInput(action); !ok || in.ScheduleID != id {
		return ErrScheduleNotFound
	}
	return nil
}

// reencodeArgs turns the described action's raw payloads back into the job
// input, which the SDK encodes again on update.
func reencodeArgs(action client.ScheduleAction) {
	if in, ok := actionInput(action); ok {
		action.(*client.ScheduleWorkflowAction).Args = []any{in}
	}
}

func (s *Service) setPaused(ctx context.Context, id string, paused bool, note string) error {
	if _, err := s.GetSchedule(ctx, id); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	h := s.client.ScheduleClient().GetHandle(ctx, id)
	var err error
	if paused {
		err = h.Pause(ctx, client.SchedulePauseOptions{Note: note})
	} else {
		err = h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: "unpaused through the chaptask API"})
	}
	if err != nil {
		return s.scheduleError(err, "", "pause schedule %s", id)
	}
	return nil
}

// triggerWait bounds how long TriggerSchedule looks for the job it started.
const triggerWait = 5 * time.Second

// TriggerSchedule starts a run now, paused or not, whatever runs already
// (a trigger is an explicit request). It returns the schedule, with the
// id of the started job when the scheduler reported it within triggerWait.
func (s *Service) TriggerSchedule(ctx context.Context, id string) (*Schedule, error) {
	before, err := s.GetSchedule(ctx, id)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, r := range before.RecentRuns {
		seen[r.JobID] = true
	}
	tctx, cancel := context.WithTimeout(ctx, callTimeout)
	err = s.client.ScheduleClient().GetHandle(tctx, id).Trigger(tctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL})
	cancel()
	if err != nil {
		return nil, s.scheduleError(err, "", "trigger schedule %s", id)
	}
	// The scheduler starts the run asynchronously; its recent actions name
	// it once it has.
	wctx, cancel := context.WithTimeout(ctx, triggerWait)
	defer cancel()
	after := before
	err = poll(wctx, 50*time.Millisecond, func() (bool, error) {
		cur, err := s.GetSchedule(wctx, id)
		if err != nil {
			return false, err
		}
		after = cur
		for _, r := range cur.RecentRuns {
			if !seen[r.JobID] {
				jobID := r.JobID
				after.TriggeredJobID = &jobID
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil && wctx.Err() == nil {
		return nil, err
	}
	return after, nil
}

// DeleteSchedule removes the schedule. Jobs it started stay.
func (s *Service) DeleteSchedule(ctx context.Context, id string) error {
	if _, err := s.GetSchedule(ctx, id); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if err := s.client.ScheduleClient().GetHandle(ctx, id).Delete(ctx); err != nil {
		return s.scheduleError(err, "", "delete schedule %s", id)
	}
	return nil
}

// SyncTaskSchedules follows a task replaced through the API: its schedules
// start jobs carrying its current type and command, and are paused when the
// task is disabled (and stay paused when it is enabled again).
func (s *Service) SyncTaskSchedules(ctx context.Context, task *db.Task) error {
	ids, err := s.taskScheduleIDs(ctx, task.ID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		uctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := s.client.ScheduleClient().GetHandle(uctx, id).Update(uctx, client.ScheduleUpdateOptions{
			DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				sch := in.Description.Schedule
				if err := ours(id, sch.Action); err != nil {
					return nil, err
				}
				sch.Action = s.action(id, task)
				if !task.Enabled {
					if sch.State == nil {
						sch.State = &client.ScheduleState{}
					}
					sch.State.Paused = true
					sch.State.Note = "paused by chaptask: task disabled"
				}
				return &client.ScheduleUpdate{Schedule: &sch}, nil
			},
		})
		cancel()
		if err != nil && !errors.Is(err, ErrScheduleNotFound) {
			if err = s.scheduleError(err, "", "update schedule %s of task %s", id, task.ID); !errors.Is(err, ErrScheduleNotFound) {
				return err
			}
		}
	}
	return nil
}

// DeleteTaskSchedules removes every schedule of a deleted task.
func (s *Service) DeleteTaskSchedules(ctx context.Context, taskID string) error {
	ids, err := s.taskScheduleIDs(ctx, taskID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		dctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := s.client.ScheduleClient().GetHandle(dctx, id).Delete(dctx)
		cancel()
		if err != nil {
			if err = s.scheduleError(err, "", "delete schedule %s of task %s", id, taskID); !errors.Is(err, ErrScheduleNotFound) {
				return err
			}
		}
	}
	return nil
}

// scheduleIDOf reads which schedule started a job, from the search attribute
// Temporal sets on scheduled runs; "" for a job started by hand.
func scheduleIDOf(sa *commonpb.SearchAttributes) string {
	return keyword(sa, scheduledByIDAttr)
}

// scheduledByIDAttr is Temporal's own search attribute naming the schedule
// that started a workflow.
const scheduledByIDAttr = "TemporalScheduledById"
