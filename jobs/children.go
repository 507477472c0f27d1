package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/oklog/ulid/v2"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/chaptask/chaptask/activities"
	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/workflows"
)

// Errors of child-job submission, told apart by callers.
var (
	// ErrNoReservedArtifact means the job started before artifact ids
	// were reserved (or runs a shell command): it cannot have children.
	ErrNoReservedArtifact = errors.New("job has no reserved artifact")
	// ErrTaskNotRunnable means the task does not exist or is disabled.
	ErrTaskNotRunnable = errors.New("task cannot run")
	// ErrBadChildRequest means the key or the overrides are invalid.
	ErrBadChildRequest = errors.New("bad child job request")
)

var parentJobKey = temporal.NewSearchAttributeKeyKeyword(workflows.SearchAttrParentJob)

// parentDetails names a child job's parent in its Web UI details.
func parentDetails(parentJobID string) string {
	if parentJobID == "" {
		return ""
	}
	return " · child job of `" + parentJobID + "`"
}

// searchAttrs are the search attributes of the job req starts.
func searchAttrs(req startRequest) []temporal.SearchAttributeUpdate {
	attrs := []temporal.SearchAttributeUpdate{
		taskIDKey.ValueSet(req.task.id),
		taskTypeKey.ValueSet(req.task.taskType),
		commandKey.ValueSet(truncateRunes(req.task.command, maxSearchAttrLen)),
	}
	if req.parentJobID != "" {
		attrs = append(attrs, parentJobKey.ValueSet(req.parentJobID))
	}
	return attrs
}

// ChildJobID is the id of the child job that the run parentRunID of job
// parentJobID submits under key: like KeyedJobID, a ULID whose time part is
// zero and whose random bits come from SHA-256, so that a run step retried
// after its worker died submits the same ids again and attaches to the
// children it started before instead of starting new ones.
func ChildJobID(parentJobID, parentRunID, key string) string {
	sum := sha256.Sum256([]byte("child\x00" + parentJobID + "\x00" + parentRunID + "\x00" + key))
	var id ulid.ULID
	copy(id[6:], sum[:10])
	return id.String()
}

// Children is what a registered function asks for, by type, to run other
// tasks as child jobs of its own job and to store artifacts under its job's
// artifact: chapkit's JobScheduler, chaptask's way. It is scoped to one run
// of one job; the worker builds one per call (see Service.ChildrenOf).
//
// Child jobs are ordinary jobs: they show in every list, carry the
// ChaptaskParentJob search attribute, and their artifacts go one level under
// the parent job's artifact. Submitting is idempotent per key, so a function
// that runs again after its worker died finds the children it had started.
type Children struct {
	jobs   *Service
	scope  activities.JobScope
	policy domain.Policy

	mu       sync.Mutex // guards reserved and waits
	reserved bool
	waits    int // Waits in progress (a function may wait from several goroutines)
}

// ChildrenOf returns the Children of the job run that scope describes,
// submitting only what policy allows.
func (s *Service) ChildrenOf(scope activities.JobScope, policy domain.Policy) *Children {
	return &Children{jobs: s, scope: scope, policy: policy}
}

// JobID is the id of the job the function runs in.
func (c *Children) JobID() string { return c.scope.JobID }

// ArtifactID is the id reserved for the job's own artifact, "" for a job
// that reserved none. Artifacts stored under it, by the function or by
// child jobs, are its children in $tree.
func (c *Children) ArtifactID() string { return c.scope.Artifact.ArtifactID }

// Level is the level of the job's own artifact: 0 for a job started by hand
// or by a schedule, one more per generation of child jobs.
func (c *Children) Level() int { return c.scope.Artifact.Level() }

// Submit starts taskID as a child job named by key (1 to 255 printable
// ASCII characters) with overrides, which may be nil, and returns its id.
// Submitting the same key again in the same run of the job returns the
// same id and starts nothing, whatever happened to the first child.
func (c *Children) Submit(ctx context.Context, key, taskID string, overrides *workflows.RunOverrides) (string, error) {
	if !ValidIdempotencyKey(key) {
		return "", fmt.Errorf("submit child job %q: %w: the key must be 1 to %d printable ASCII characters", key, ErrBadChildRequest, MaxIdempotencyKeyLen)
	}
	if overrides != nil && len(overrides.Parameters) > 0 {
		var params map[string]json.RawMessage
		if err := json.Unmarshal(overrides.Parameters, &params); err != nil || params == nil {
			return "", fmt.Errorf("submit child job %q: %w: parameters must be a JSON object", key, ErrBadChildRequest)
		}
	}
	if c.ArtifactID() == "" {
		return "", fmt.Errorf("submit child job %q: %w", key, ErrNoReservedArtifact)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("submit child job %q: %w", key, err)
	}
	jobID := ChildJobID(c.scope.JobID, c.scope.RunID, key)
	task, err := db.GetTask(ctx, c.jobs.db, taskID)
	switch {
	case errors.Is(err, db.ErrNotFound):
		// A retried run finds its child even if the task went since.
		if _, getErr := c.jobs.Get(ctx, jobID); getErr == nil {
			return jobID, nil
		}
		return "", fmt.Errorf("submit child job %q: %w: task %s not found", key, ErrTaskNotRunnable, taskID)
	case err != nil:
		return "", fmt.Errorf("submit child job %q: read task %s: %w", key, taskID, err)
	case !task.Enabled:
		return "", fmt.Errorf("submit child job %q: %w: task %s is disabled", key, ErrTaskNotRunnable, taskID)
	case !c.policy.AllowsShell(task.TaskType):
		return "", fmt.Errorf("submit child job %q: %w: task %s is a shell task and shell tasks are disabled here", key, ErrTaskNotRunnable, taskID)
	}
	if err := c.reserve(ctx); err != nil {
		return "", err
	}
	in := submitInput(task, overrides)
	in.Parent = &workflows.ParentArtifact{JobID: c.scope.JobID, ArtifactID: c.ArtifactID(), Level: c.Level()}
	err = c.jobs.start(ctx, startRequest{
		jobID:       jobID,
		task:        searchable{id: task.ID, taskType: task.TaskType, command: task.Command},
		input:       in,
		keyed:       true,
		parentJobID: c.scope.JobID,
	})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return "", c.jobs.wrap(err, "start child job %s of job %s", jobID, c.scope.JobID)
	}
	return jobID, nil
}

// reserve makes sure the row of the job's reserved artifact exists (with
// its own parent and level), so child artifacts can point at it.
func (c *Children) reserve(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reserved {
		return nil
	}
	r := db.Reservation{ID: c.ArtifactID(), JobID: c.scope.JobID, Level: c.Level()}
	if p := c.scope.Artifact.Parent; p != nil {
		r.ParentID = p.ArtifactID
	}
	if err := db.ReserveArtifact(ctx, c.jobs.db, r); err != nil {
		return err
	}
	c.reserved = true
	return nil
}

// Wait waits until every job in ids has finished and returns their
// records, in the order of ids. The run step heartbeats while the function
// waits, so a canceled parent stops waiting at once (Wait returns ctx's
// error) and a dead worker's retry waits again for the same children.
func (c *Children) Wait(ctx context.Context, ids ...string) ([]*Job, error) {
	c.startWaiting()
	defer c.stopWaiting()
	done := make([]*Job, 0, len(ids))
	for _, id := range ids {
		job, err := c.jobs.Wait(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("wait for child job %s: %w", id, err)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("wait for child job %s: %w", id, err)
		}
		done = append(done, job)
	}
	return done, nil
}

// Get returns the current record of job id.
func (c *Children) Get(ctx context.Context, id string) (*Job, error) {
	return c.jobs.Get(ctx, id)
}

// List returns the child jobs of this job, newest first.
func (c *Children) List(ctx context.Context) ([]Job, error) {
	list, _, err := c.jobs.List(ctx, Filter{ParentJobID: c.scope.JobID})
	return list, err
}

// Artifact returns the artifact of finished job id; db.ErrNotFound when it
// has none (it failed or was canceled before storing one).
func (c *Children) Artifact(ctx context.Context, id string) (*db.Artifact, error) {
	job, err := c.jobs.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if job.ArtifactID == nil || job.ArtifactDeletedAt != nil {
		return nil, fmt.Errorf("artifact of job %s (%s): %w", id, job.Status, db.ErrNotFound)
	}
	return db.GetArtifact(ctx, c.jobs.db, *job.ArtifactID)
}

// Cancel asks job id to stop. Children left running when the function's
// own job ends without a result are canceled by the job itself.
func (c *Children) Cancel(ctx context.Context, id string) error {
	return c.jobs.Cancel(ctx, id)
}

// StoreArtifact stores data (any JSON value) as an artifact under the job's
// own artifact, one level below it, and returns it.
func (c *Children) StoreArtifact(ctx context.Context, data any) (*db.Artifact, error) {
	if c.ArtifactID() == "" {
		return nil, fmt.Errorf("store artifact under job %s: %w", c.scope.JobID, ErrNoReservedArtifact)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("store artifact under job %s: encode data: %w", c.scope.JobID, err)
	}
	if err := c.reserve(ctx); err != nil {
		return nil, err
	}
	store := db.ArtifactStore{DB: c.jobs.db}
	return store.Create(ctx, c.ArtifactID(), c.Level()+1, db.JSON(raw))
}

// CancelChildren is the activity that cancels the live child jobs of a job
// whose run step ended without a result. Children already finished, or
// gone, are left as they are.
func (s *Service) CancelChildren(ctx context.Context, in workflows.CancelChildrenInput) error {
	query := "WorkflowType = '" + workflows.ExecuteTaskWorkflow + "' AND " + workflows.SearchAttrParentJob + " = '" + in.JobID + "' AND ExecutionStatus = 'Running'"
	live, _, err := s.listQuery(ctx, query, maxListAll)
	if err != nil {
		return err
	}
	var errs []error
	for _, child := range live {
		err := s.client.CancelWorkflow(ctx, child.ID, child.runID)
		var nf *serviceerror.NotFound
		var already *serviceerror.CancellationAlreadyRequested
		if err != nil && !errors.As(err, &nf) && !errors.As(err, &already) {
			errs = append(errs, fmt.Errorf("cancel child job %s: %w", child.ID, err))
		}
	}
	if len(live) > 0 {
		s.logger.InfoContext(ctx, "canceled child jobs of a job that ended without a result", "job_id", in.JobID, "children", len(live))
	}
	return errors.Join(errs...)
}

// SlotLender is the worker's slots as a waiting function sees them: a run
// step that waits for its children lends its slot to other jobs (the
// children among them) and takes it back when the wait ends.
type SlotLender interface {
	Lend()
	Reclaim()
}

// LendSlotsWhileWaiting makes the functions of this worker lend their slot
// to slots while they wait for child jobs. Without it, parents waiting on
// every slot of the worker leave their children none.
func (s *Service) LendSlotsWhileWaiting(slots SlotLender) {
	s.slots = slots
}

// startWaiting lends the job's slot when its first Wait begins.
func (c *Children) startWaiting() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits++
	if c.waits == 1 && c.jobs.slots != nil {
		c.jobs.slots.Lend()
	}
}

// stopWaiting takes the slot back when its last Wait ends.
func (c *Children) stopWaiting() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits--
	if c.waits == 0 && c.jobs.slots != nil {
		c.jobs.slots.Reclaim()
	}
}
