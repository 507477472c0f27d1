package jobs

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/chaptask/chaptask/workflows"
)

// LocalRuns knows which jobs' workflows this process's worker is executing
// and tells waiters when one returns. A waiter for such a job needs nothing
// from Temporal until then; Temporal's history long-poll, the alternative,
// wakes at every event of the job (three or four times) and costs the
// frontend and history a round trip each time, about a sixth of the
// server's CPU when every client waits with ?wait=.
//
// It only ever saves work: a job running in another process, or one whose
// workflow this worker evicted, is waited for through Temporal as before,
// and a waiter that hears nothing re-reads the job after a slice.
type LocalRuns struct {
	// identity names this process's worker to Temporal; unique, so that
	// the pollers Temporal lists tell this worker from any other.
	identity string
	mu       sync.Mutex
	running  map[string]int // job id → executions in progress here (a replay may overlap an eviction)
	waiters  map[string]map[chan struct{}]struct{}
	// starts are closed when a workflow of their job begins here.
	starts map[string]map[chan struct{}]struct{}
	// followers (FollowLocalRuns) hear of every job whose workflow
	// returned here, and of every run step that started or ended here.
	followers []localFollower
	// gate bounds the local run steps running at once (SetRunGate).
	gate RunGate
	// stops cancel the local run steps running here, by job id.
	stops map[string]*stopper
}

type localFollower struct {
	ended, runStarted func(id string)
	runEnded          func(taskID string, took time.Duration)
}

// RunGate admits run steps: the worker's run slots, which the SDK applies
// to activities; a local activity's slot is the SDK's own, shared with the
// database steps, so local run steps pass the gate here.
type RunGate interface {
	AcquireRun(ctx context.Context) error
	ReleaseRun()
}

// SetRunGate makes local run steps wait for a run slot. Call it before the
// worker starts.
func (l *LocalRuns) SetRunGate(g RunGate) { l.gate = g }

// NewLocalRuns returns an empty LocalRuns; register its WorkerInterceptor
// and Identity on the worker and give it to the Service (FollowLocalRuns).
func NewLocalRuns() *LocalRuns {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	// The SDK's default identity, pid@host, is shared by every worker of
	// one process (tests run several) and by containers that all run as
	// pid 1 on hosts of one name; a random suffix keeps it unique.
	return &LocalRuns{
		identity: fmt.Sprintf("%d@%s@chaptask-%s", os.Getpid(), host, rand.Text()[:8]),
		running:  map[string]int{},
		waiters:  map[string]map[chan struct{}]struct{}{},
		starts:   map[string]map[chan struct{}]struct{}{},
		stops:    map[string]*stopper{},
	}
}

// Identity is the identity the worker must poll with (worker.Options).
func (l *LocalRuns) Identity() string { return l.identity }

func (l *LocalRuns) follow(f localFollower) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.followers = append(l.followers, f)
}

// WorkerInterceptor reports the job workflows the worker executes.
func (l *LocalRuns) WorkerInterceptor() interceptor.WorkerInterceptor {
	return &localRunsInterceptor{runs: l}
}

// subscribe returns a channel closed when a workflow of job id returns in
// this process, and the func that drops the subscription. A nil LocalRuns
// returns a channel that never closes.
func (l *LocalRuns) subscribe(id string) (<-chan struct{}, func()) {
	if l == nil {
		return make(chan struct{}), func() {}
	}
	return l.listen(l.waiters, id)
}

// subscribeStart is subscribe for a workflow of job id beginning here.
func (l *LocalRuns) subscribeStart(id string) (<-chan struct{}, func()) {
	if l == nil {
		return make(chan struct{}), func() {}
	}
	return l.listen(l.starts, id)
}

func (l *LocalRuns) listen(sets map[string]map[chan struct{}]struct{}, id string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	l.mu.Lock()
	defer l.mu.Unlock()
	set := sets[id]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		sets[id] = set
	}
	set[ch] = struct{}{}
	return ch, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		// After the event the set is gone; a newer one may hold other listeners.
		delete(sets[id], ch)
		if len(sets[id]) == 0 {
			delete(sets, id)
		}
	}
}

// runsHere reports whether this process's worker is executing job id.
func (l *LocalRuns) runsHere(id string) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.running[id] > 0
}

func (l *LocalRuns) begin(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running[id]++
	for ch := range l.starts[id] {
		close(ch)
	}
	delete(l.starts, id)
}

// end records that a workflow of job id returned (or was evicted) and
// wakes its waiters. Temporal records the close a moment later, so a woken
// waiter still confirms it there.
func (l *LocalRuns) end(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running[id]--; l.running[id] <= 0 {
		delete(l.running, id)
	}
	for ch := range l.waiters[id] {
		close(ch)
	}
	delete(l.waiters, id)
	for _, f := range l.followers {
		f.ended(id)
	}
}

// runStarted records that this process's worker began job id's run step:
// the job is running now, whatever an earlier describe said.
func (l *LocalRuns) runStarted(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.followers {
		f.runStarted(id)
	}
}

type localRunsInterceptor struct {
	interceptor.WorkerInterceptorBase
	runs *LocalRuns
}

func (i *localRunsInterceptor) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &localRunsWorkflow{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, runs: i.runs}
}

func (i *localRunsInterceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &localRunsActivity{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, runs: i.runs}
}

type localRunsActivity struct {
	interceptor.ActivityInboundInterceptorBase
	runs *LocalRuns
}

// ExecuteActivity reports a run step's start before the step runs and its
// length after. A local run step also takes a run slot, and can be stopped
// by a cancel made through this process's API (cancelHere).
func (a *localRunsActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	info := activity.GetInfo(ctx)
	if info.ActivityType.Name != workflows.RunTaskActivity {
		return a.Next.ExecuteActivity(ctx, in)
	}
	id := info.WorkflowExecution.ID
	if info.IsLocalActivity {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		defer a.runs.addStop(id, &stopper{cancel: cancel})()
		if a.runs.gate != nil {
			if err := a.runs.gate.AcquireRun(ctx); err != nil {
				return nil, stoppedHere(ctx, err) // it never ran
			}
			defer a.runs.gate.ReleaseRun()
		}
	}
	a.runs.runStarted(id)
	began := time.Now()
	res, err := a.Next.ExecuteActivity(ctx, in)
	if len(in.Args) == 1 {
		if run, ok := in.Args[0].(workflows.RunInput); ok {
			a.runs.runEnded(run.Task.ID, time.Since(began))
		}
	}
	return res, stoppedHere(ctx, err)
}

// stoppedHere is err, or, when cancelHere stopped the step, the
// CanceledHere failure the workflow waits on for Temporal's own request.
func stoppedHere(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), workflows.ErrCanceledHere) {
		return temporal.NewNonRetryableApplicationError(workflows.ErrCanceledHere.Error(), workflows.ErrTypeCanceledHere, nil)
	}
	return err
}

// stopper cancels one local run step.
type stopper struct{ cancel context.CancelCauseFunc }

// addStop makes stop the way to cancel job id's local run step, until the
// returned func is called; a newer step of the same job (a retry after a
// lost workflow task) replaces it.
func (l *LocalRuns) addStop(id string, stop *stopper) (remove func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stops[id] = stop
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.stops[id] == stop {
			delete(l.stops, id)
		}
	}
}

// cancelHere stops job id's local run step if it runs here. Call it only
// once Temporal accepted the job's cancel request: the workflow waits for
// that request before it closes the job canceled.
func (l *LocalRuns) cancelHere(id string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	stop := l.stops[id]
	l.mu.Unlock()
	if stop != nil {
		stop.cancel(workflows.ErrCanceledHere)
	}
}

// runEnded tells the followers how long a run step of taskID took here.
func (l *LocalRuns) runEnded(taskID string, took time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.followers {
		f.runEnded(taskID, took)
	}
}

type localRunsWorkflow struct {
	interceptor.WorkflowInboundInterceptorBase
	runs *LocalRuns
}

// ExecuteWorkflow brackets the job's workflow function. The deferred end
// also runs when the worker evicts the workflow from its cache, which
// unwinds the function.
func (w *localRunsWorkflow) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	info := workflow.GetInfo(ctx)
	if info.WorkflowType.Name != workflows.ExecuteTaskWorkflow {
		return w.Next.ExecuteWorkflow(ctx, in)
	}
	id := info.WorkflowExecution.ID
	w.runs.begin(id)
	defer w.runs.end(id)
	return w.Next.ExecuteWorkflow(ctx, in)
}
