// Package jobs submits, reads, watches and cancels jobs. A job is a Temporal
// workflow execution; its state is read from Temporal, never from a table of
// our own.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/activities"
	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/workflows"
)

// Errors callers tell apart.
var (
	// ErrNotFound means no job has the id.
	ErrNotFound = &domain.Error{Code: domain.NotFound, Message: "job not found"}
	// ErrUnavailable means Temporal could not be reached; try again later.
	ErrUnavailable = &domain.Error{Code: domain.Unavailable, Message: "Temporal is unavailable, try again later"}
	// ErrStorageFull means Temporal failed while the disk of its store is
	// full; free space and try again.
	ErrStorageFull = &domain.Error{Code: domain.StorageFull, Message: "Temporal cannot write its store: the data directory's disk is full"}
	// ErrNoSnapshot means the job never read its task (it was deleted
	// before the job ran), so there is nothing to run again.
	ErrNoSnapshot = &domain.Error{Code: domain.Conflict, Message: "job has no task snapshot"}
)

// Job is one execution of a task as the API shows it.
type Job struct {
	ID     string `json:"id"`
	TaskID string `json:"task_id"`
	// ScheduleID names the schedule that started the job; nil for a job
	// started by hand.
	ScheduleID     *string    `json:"schedule_id"`
	Status         string     `json:"status"`
	ArtifactID     *string    `json:"artifact_id"`
	SubmittedAt    time.Time  `json:"submitted_at"`
	StartedAt      *time.Time `json:"started_at"`
	FinishedAt     *time.Time `json:"finished_at"`
	Error          *string    `json:"error"`
	ErrorTraceback *string    `json:"error_traceback"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	// Progress is the last report of a running function; null otherwise.
	Progress *Progress `json:"progress"`
	// RerunOf is the job this one repeats, for jobs started by Rerun.
	RerunOf *string `json:"rerun_of,omitempty"`
	// ParentJobID is the job whose function started this one as a child
	// job; nil for other jobs.
	ParentJobID *string `json:"parent_job_id"`
	// ArtifactDeletedAt is when the job's artifact was deleted (through
	// the API or by retention); artifact_id still names it. Absent while
	// the artifact exists.
	ArtifactDeletedAt *time.Time `json:"artifact_deleted_at,omitempty"`

	// runID is the workflow run the record describes: a job id used again
	// (an idempotency key after deletion) is a new run.
	runID string
	// partial marks a record missing what a failed history read would
	// have added; it is answered but never cached.
	partial bool
	// runsLocally marks a job whose run step is a local activity: no
	// pending activity shows it running, its workflow task does.
	runsLocally bool
}

// runKey names the run a finished record describes, for closedRuns.
func (j *Job) runKey() string { return j.ID + "/" + j.runID }

// Progress is what a running function last reported about itself.
type Progress struct {
	Percent   float64   `json:"percent"`
	Message   string    `json:"message"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Service talks to Temporal on behalf of the API. It reads the artifacts
// table for what a finished job produced.
type Service struct {
	client    client.Client
	db        bun.IDB
	namespace string
	taskQueue string
	logger    *slog.Logger
	// finished answers GET /jobs/{id} for finished jobs, by job id.
	finished *terminalCache
	// closedRuns completes the finished jobs of list pages, by run: the
	// list itself comes from visibility, which already leaves out deleted
	// jobs, so these records may live long; they spare each page the
	// artifact query and, for failed and canceled jobs, a history read.
	closedRuns *terminalCache
	local      *LocalRuns // nil when this process runs no worker
	// live shares and remembers describes of live jobs (GET /jobs/{id}
	// polled while a job runs).
	live *liveReads
	// lowDisk reports why the Temporal server's disk is too full, or
	// nil; nil func when Temporal's store is not on a disk we watch.
	lowDisk func() error
	// consoleURL is where people open the console; each job links back to
	// it from the Temporal Web UI. Empty adds no link.
	consoleURL string
	// slots are the worker's, lent while a function waits for its child
	// jobs; nil where no worker of this process runs functions.
	slots SlotLender
	// counts are the totals of list pages, shared by all requests.
	counts *countCache
	// lengths predict which jobs may run their step locally.
	lengths *runLengths
}

// Finished-job cache bounds: a few MiB each at most. A deletion made
// through another process shows in GET /jobs/{id} within finishedTTL.
const (
	finishedCacheSize = 10_000
	finishedTTL       = 10 * time.Second
	closedRunsTTL     = time.Hour
)

// New returns a Service submitting jobs to taskQueue.
func New(c client.Client, bdb bun.IDB, namespace, taskQueue string, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		client:     c,
		db:         bdb,
		namespace:  namespace,
		taskQueue:  taskQueue,
		logger:     logger,
		finished:   newTerminalCache(finishedCacheSize, finishedTTL),
		closedRuns: newTerminalCache(finishedCacheSize, closedRunsTTL),
		live:       newLiveReads(),
		lengths:    newRunLengths(),
	}
	s.counts = newCountCache(s.countJobs, countFresh, countMaxStale, countQueries)
	return s
}

// FollowLocalRuns lets waits for jobs that this process's worker executes
// learn of their end from the worker instead of from Temporal, and lets
// reads of pending jobs learn of their start from it too while it is the
// task queue's only worker. Call it before the Service is used.
func (s *Service) FollowLocalRuns(l *LocalRuns) {
	s.local = l
	if l == nil {
		return
	}
	l.follow(localFollower{ended: s.live.ended, runStarted: s.live.stale, runEnded: s.lengths.observe})
	sole := &soleWorker{client: s.client, taskQueue: s.taskQueue, identity: l.identity}
	s.live.setQuietPending(sole.isSole)
}

// RunShortTasksLocally sets the longest last run of a shell task after
// which its next jobs run their step inside the workflow task
// (workflows.ExecuteInput.RunLocally); 0 turns it off. Call it before the
// Service is used; DefaultLocalRunMax until then.
func (s *Service) RunShortTasksLocally(max time.Duration) {
	s.lengths.setMax(max)
}

// WatchTemporalDisk tells the service how to check the disk of an embedded
// Temporal server's store: lowDisk returns why it is too full, or nil.
// While it is, Temporal's failures are reported as ErrStorageFull: a full
// disk leaves the server's shards without a store ("shard status unknown"),
// and "Temporal is unavailable" would send the operator the wrong way.
func (s *Service) WatchTemporalDisk(lowDisk func() error) {
	s.lowDisk = lowDisk
}

// LinkConsole makes every job started from now on link to its page in the
// console at baseURL (e.g. "http://127.0.0.1:8000") from the Temporal Web
// UI. Call it before the Service is used.
func (s *Service) LinkConsole(baseURL string) {
	s.consoleURL = strings.TrimRight(baseURL, "/")
}

// Summary is the line a person reads for a job of this task in the
// Temporal Web UI and CLI: "shell: echo hi", "go: calculate_sum".
func Summary(taskType, command string) string {
	kind := taskType
	if kind == domain.TaskTypePython {
		kind = domain.TaskTypeGo
	}
	// Temporal shows the summary on one line; a multi-line command keeps
	// its first.
	first, _, multi := strings.Cut(command, "\n")
	if multi {
		first += " …"
	}
	return truncateRunes(kind+": "+first, maxSummaryLen)
}

// maxSummaryLen keeps a job's summary to a line the Web UI shows whole.
const maxSummaryLen = 200

// details is the Markdown the Temporal Web UI shows under a job's summary:
// its task and, when the console's address is known, a link to the page
// given by fragment ("jobs/<id>" or "tasks/<id>").
func (s *Service) details(taskID, fragment string) string {
	d := "chaptask task `" + taskID + "`"
	if s.consoleURL != "" {
		d += " · [Open in the chaptask console](" + s.consoleURL + "/#/" + fragment + ")"
	}
	return d
}

// maxSearchAttrLen keeps the command search attribute inside the keyword
// size every visibility store accepts.
const maxSearchAttrLen = 255

var (
	taskIDKey   = temporal.NewSearchAttributeKeyKeyword(workflows.SearchAttrTaskID)
	taskTypeKey = temporal.NewSearchAttributeKeyKeyword(workflows.SearchAttrTaskType)
	commandKey  = temporal.NewSearchAttributeKeyKeyword(workflows.SearchAttrCommand)
)

// Submit starts a job running task and returns its id. Overrides, when not
// nil, change the task for this job only.
func (s *Service) Submit(ctx context.Context, task *db.Task, overrides *workflows.RunOverrides) (string, error) {
	jobID := db.NewID()
	req := startRequest{
		jobID: jobID,
		task:  searchable{id: task.ID, taskType: task.TaskType, command: task.Command},
		input: submitInput(task, overrides),
	}
	err := s.start(ctx, req)
	if err != nil && startMayHaveHappened(err) {
		// The start may still reach Temporal after its answer timed out,
		// so a describe cannot tell. Starting the same job id again settles
		// it, since every start refuses a second execution: whichever of
		// the two arrives first creates the job and the other is refused.
		// A 503 now would invite a client retry that runs the task twice.
		retry := s.start(context.WithoutCancel(ctx), req)
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if retry == nil || errors.As(retry, &started) {
			return jobID, nil
		}
	}
	if err != nil {
		return "", s.wrap(err, "start job for task %s", task.ID)
	}
	return jobID, nil
}

// submitInput is the workflow input of a job of task. It carries the task
// as the API read it, so the job runs what was submitted and its workflow
// skips the snapshot step (a local activity and a marker in the history).
// A task that does not make a snapshot is left to that step, which fails
// the job as before.
func submitInput(task *db.Task, overrides *workflows.RunOverrides) workflows.ExecuteInput {
	in := workflows.ExecuteInput{TaskID: task.ID, Overrides: overrides}
	if snap, err := activities.Snapshot(task); err == nil {
		in.Snapshot = &snap
	}
	return in
}

// startMayHaveHappened reports whether a failed start could still have
// created the workflow: only when the call timed out, not when Temporal
// refused it or could not be reached at all.
func startMayHaveHappened(err error) bool {
	var deadline *serviceerror.DeadlineExceeded
	return errors.As(err, &deadline) || errors.Is(err, context.DeadlineExceeded)
}

// searchable is what a job's search attributes say of its task.
type searchable struct {
	id, taskType, command string
}

// startRequest is one job start.
type startRequest struct {
	jobID string
	task  searchable
	input workflows.ExecuteInput
	// keyed starts refuse an id that was ever used and still exists, live
	// or closed, so the caller learns that the job already exists.
	keyed bool
	// rerunOf goes into the job's memo.
	rerunOf string
	// parentJobID is the search attribute of child jobs.
	parentJobID string
}

// start starts the job workflow.
func (s *Service) start(ctx context.Context, req startRequest) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	opts := client.StartWorkflowOptions{
		ID:                                       req.jobID,
		TaskQueue:                                s.taskQueue,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		// A job id is never used twice, not even after its job closed: a
		// start that arrives late (see Submit) must not run the job again.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		// Skips a round trip when a worker shares this client; a plain
		// start otherwise.
		EnableEagerStart: true,
		// User metadata: the Web UI lists jobs by what they run, and links
		// each to its console page.
		StaticSummary:         Summary(req.task.taskType, req.task.command),
		StaticDetails:         s.details(req.task.id, "jobs/"+req.jobID) + parentDetails(req.parentJobID),
		TypedSearchAttributes: temporal.NewSearchAttributes(searchAttrs(req)...),
	}
	if req.keyed {
		// FAIL rather than USE_EXISTING: both leave one execution, but
		// only FAIL tells this caller that the job was already there (the
		// SDK does not expose the start response's Started flag).
		opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL
	}
	memo := map[string]any{}
	if req.rerunOf != "" {
		memo[memoRerunOf] = req.rerunOf
	}
	if req.task.taskType == domain.TaskTypeShell && s.lengths.short(req.task.id) {
		req.input.RunLocally = true
		// Reads tell a local run step's start by the workflow task's.
		memo[memoRunsLocally] = true
	}
	if len(memo) > 0 {
		opts.Memo = memo
	}
	run, err := s.client.ExecuteWorkflow(ctx, opts, workflows.ExecuteTaskWorkflow, req.input)
	s.counts.changed() // even a failed start may have created the job
	if err == nil {
		s.live.started(req.jobID, run.GetRunID())
	}
	return err
}

// callTimeout bounds every call to Temporal made for one request, so an
// unreachable server answers ErrUnavailable instead of hanging on the SDK's
// retries.
const callTimeout = 5 * time.Second

// Get returns the job's current record. A live job's record is at most
// about liveFresh old and never earlier than one this process answered
// before (liveReads).
func (s *Service) Get(ctx context.Context, id string) (*Job, error) {
	if job, ok := s.finished.get(id, time.Now()); ok {
		return job, nil
	}
	return s.live.get(ctx, id, func(ctx context.Context, runID string) (*Job, error) {
		return s.describe(ctx, id, runID)
	})
}

// describe reads the job's record from Temporal: of run runID, or of the
// current run when runID is empty.
func (s *Service) describe(ctx context.Context, id, runID string) (*Job, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	desc, err := s.client.DescribeWorkflowExecution(ctx, id, runID)
	if err != nil {
		return nil, s.wrap(err, "describe job %s", id)
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetType().GetName() != workflows.ExecuteTaskWorkflow {
		return nil, ErrNotFound // another workflow sharing the namespace
	}
	job := jobFromInfo(info)
	if job.Status == StatusPending {
		refineLive(job, desc)
		return job, nil
	}
	if err := s.complete(ctx, []*Job{job}); err != nil {
		return nil, err
	}
	if job.StartedAt != nil && job.FinishedAt != nil {
		s.lengths.observe(job.TaskID, job.FinishedAt.Sub(*job.StartedAt))
	}
	now := time.Now()
	s.finished.put(job.ID, job, now)
	s.closedRuns.put(job.runKey(), job, now)
	return job, nil
}

// fillFromHistory reads what visibility does not keep from the job's
// history: when its run step started, and why it failed.
func (s *Service) fillFromHistory(ctx context.Context, job *Job) {
	runScheduled := false
	tasksStarted, canceledFirst := false, false
	defer func() {
		if job.StartedAt == nil && runScheduled && !job.partial {
			s.fillFromPendingRun(ctx, job)
		}
	}()
	iter := s.client.GetWorkflowHistory(ctx, job.ID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			s.logger.WarnContext(ctx, "read job history", "job_id", job.ID, "task_id", job.TaskID, "error", err)
			job.partial = true
			return
		}
		if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == workflows.RunTaskActivity {
			runScheduled = true
		}
		// A local run step starts with the workflow task it runs in; the
		// persist step after it is the only activity such a job starts.
		// A job canceled before its first task ran never ran.
		if ev.GetWorkflowExecutionCancelRequestedEventAttributes() != nil {
			canceledFirst = canceledFirst || !tasksStarted
		}
		if ev.GetWorkflowTaskStartedEventAttributes() != nil {
			if job.runsLocally && !tasksStarted && !canceledFirst {
				started := micro(ev.GetEventTime().AsTime())
				job.StartedAt = &started
			}
			tasksStarted = true
		}
		if ev.GetActivityTaskStartedEventAttributes() != nil && job.StartedAt == nil {
			started := micro(ev.GetEventTime().AsTime())
			job.StartedAt = &started
		}
		if attrs := ev.GetWorkflowExecutionFailedEventAttributes(); attrs != nil {
			setError(job, attrs.GetFailure().GetMessage(), failureTrace(attrs.GetFailure()))
		}
		if attrs := ev.GetWorkflowExecutionTerminatedEventAttributes(); attrs != nil {
			msg := "terminated"
			if r := attrs.GetReason(); r != "" {
				msg += ": " + r
			}
			setError(job, msg, "")
		}
		if ev.GetWorkflowExecutionTimedOutEventAttributes() != nil {
			setError(job, "timed out", "")
		}
	}
}

// fillFromPendingRun reads the run step's start from Temporal's description
// of the job. History writes an activity's started event only when the
// attempt ends, so a job terminated (or timed out) while its command ran has
// none, yet the description still holds the attempt's start.
func (s *Service) fillFromPendingRun(ctx context.Context, job *Job) {
	desc, err := s.client.DescribeWorkflowExecution(ctx, job.ID, job.runID)
	if err != nil {
		s.logger.WarnContext(ctx, "describe job for its run start", "job_id", job.ID, "task_id", job.TaskID, "error", err)
		return
	}
	for _, pa := range desc.GetPendingActivities() {
		if pa.GetActivityType().GetName() == workflows.RunTaskActivity && pa.GetLastStartedTime() != nil {
			started := micro(pa.GetLastStartedTime().AsTime())
			job.StartedAt = &started
		}
	}
}

// Cancel asks a live job to stop. It returns once Temporal has recorded the
// request; the job turns canceled when its command is dead.
func (s *Service) Cancel(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	err := s.client.CancelWorkflow(ctx, id, "")
	s.counts.changed()
	if err != nil {
		return s.wrap(err, "cancel job %s", id)
	}
	// A local run step hears of the request only at its workflow task's
	// next heartbeat; stop it now if it runs here.
	s.local.cancelHere(id)
	return nil
}

// deleteWait bounds how long Delete waits for Temporal to forget a job. A
// server waits for its transfer queue's ack level to pass the job's close
// before deleting (history.transferProcessorUpdateAckInterval, 30 s by
// default; the embedded server shortens it), so on a cluster the deletion
// may still be under way when Delete returns.
const deleteWait = 5 * time.Second

// Delete cancels a live job, or removes a finished one from Temporal so it
// no longer appears; it returns when the job is gone from reads and lists.
// Its artifact stays.
func (s *Service) Delete(ctx context.Context, id string) error {
	job, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if !job.Terminal() {
		return s.Cancel(ctx, id)
	}
	s.finished.forget(id)
	s.live.forget(id)
	delCtx, cancel := context.WithTimeout(ctx, callTimeout)
	_, err = s.client.WorkflowService().DeleteWorkflowExecution(delCtx, &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace:         s.namespace,
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: id},
	})
	cancel()
	defer s.counts.changed() // once the wait below has seen the job go
	if err != nil {
		return s.wrap(err, "delete job %s", id)
	}
	if err := db.DeleteJobLog(ctx, s.db, id); err != nil {
		// The job is gone either way; a stray log only costs space.
		s.logger.WarnContext(ctx, "delete job log", "job_id", id, "error", err)
	}
	// Deletion is asynchronous in Temporal; wait so that a read right after
	// a 204 answers 404.
	waitCtx, cancel := context.WithTimeout(ctx, deleteWait)
	defer cancel()
	err = poll(waitCtx, 20*time.Millisecond, func() (bool, error) {
		_, err := s.client.DescribeWorkflowExecution(waitCtx, id, "")
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			n, err := s.client.CountWorkflow(waitCtx, &workflowservice.CountWorkflowExecutionsRequest{
				Namespace: s.namespace,
				Query:     fmt.Sprintf("WorkflowId = '%s'", id),
			})
			return err == nil && n.GetCount() == 0, nil
		}
		return false, nil
	})
	if err != nil && ctx.Err() == nil {
		// Temporal accepted the deletion; it completes on the server's pace.
		s.logger.InfoContext(ctx, "job deletion still in progress", "job_id", id, "task_id", job.TaskID)
		return nil
	}
	return err
}

// poll calls check every interval until it reports done, fails, or ctx ends.
func poll(ctx context.Context, interval time.Duration, check func() (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// wrap classifies a Temporal error: unknown executions become ErrNotFound,
// an unreachable server ErrUnavailable.
func (s *Service) wrap(err error, format string, args ...any) error {
	var nf *serviceerror.NotFound
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	switch {
	case errors.As(err, &nf):
		return ErrNotFound
	case db.IsDiskFull(err):
		// The embedded server keeps its store in the data directory: a
		// full disk fails its writes, which is not Temporal being down.
		return fmt.Errorf("%s: %w: %v", fmt.Sprintf(format, args...), ErrStorageFull, err)
	case errors.As(err, &unavailable), errors.As(err, &deadline), errors.Is(err, context.DeadlineExceeded):
		if s.lowDisk != nil {
			if full := s.lowDisk(); full != nil {
				return fmt.Errorf("%s: %w: %v (%v)", fmt.Sprintf(format, args...), ErrStorageFull, full, err)
			}
		}
		return fmt.Errorf("%s: %w: %v", fmt.Sprintf(format, args...), ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
}

// ForgetArtifact drops what this process remembers of the finished job
// whose artifact a was just deleted, so its record says so at once.
func (s *Service) ForgetArtifact(a *db.Artifact) {
	if s == nil || a.JobID == nil {
		return
	}
	j := Job{ID: *a.JobID}
	if a.RunID != nil {
		j.runID = *a.RunID
	}
	s.finished.forget(j.ID)
	s.closedRuns.forget(j.runKey())
}

// truncateRunes cuts s to at most n bytes without splitting a character.
func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// complete fills in what visibility does not hold for closed jobs: the
// artifact and run start of completed jobs and of failed ones that left an
// artifact (a timed-out run's partial output), in one query for all of
// them, and the run start and failure of failed and canceled jobs (from
// history).
func (s *Service) complete(ctx context.Context, jobs []*Job) error {
	var withArtifacts []string
	for _, j := range jobs {
		if j.Status == StatusCompleted || j.Status == StatusFailed {
			withArtifacts = append(withArtifacts, j.ID)
		}
	}
	found, err := db.JobArtifacts(ctx, s.db, withArtifacts)
	if err != nil {
		return fmt.Errorf("read job artifacts: %w", err)
	}
	for _, j := range jobs {
		if a, ok := found[j.ID]; ok {
			j.ArtifactID = &a.ID
			if a.DeletedAt != nil {
				deleted := micro(*a.DeletedAt)
				j.ArtifactDeletedAt = &deleted
			}
			if a.StartedAt != nil {
				started := micro(*a.StartedAt)
				j.StartedAt = &started
			}
		}
	}
	s.each(jobs, func(j *Job) bool { return j.Status == StatusFailed || j.Status == StatusCanceled }, func(j *Job) {
		s.fillFromHistory(ctx, j)
	})
	return nil
}

// each runs fn, a few at a time, on the jobs that match.
func (s *Service) each(jobs []*Job, match func(*Job) bool, fn func(*Job)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, describeParallelism)
	for _, j := range jobs {
		if !match(j) {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(j)
		}()
	}
	wg.Wait()
}
