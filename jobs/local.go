package jobs

import (
	"sync"

	"go.temporal.io/sdk/interceptor"
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
	mu      sync.Mutex
	running map[string]int // job id → executions in progress here (a replay may overlap an eviction)
	waiters map[string]map[chan struct{}]struct{}
	// onEnd, when set (FollowLocalRuns), hears of every job whose workflow
	// returned here.
	onEnd func(id string)
}

// NewLocalRuns returns an empty LocalRuns; register its WorkerInterceptor on
// the worker and give it to the Service (FollowLocalRuns).
func NewLocalRuns() *LocalRuns {
	return &LocalRuns{running: map[string]int{}, waiters: map[string]map[chan struct{}]struct{}{}}
}

// WorkerInterceptor reports the job workflows the worker executes.
func (l *LocalRuns) WorkerInterceptor() interceptor.WorkerInterceptor {
	return &localRunsInterceptor{runs: l}
}

// subscribe returns a channel closed when a workflow of job id returns in
// this process, and the func that drops the subscription. A nil LocalRuns
// returns a channel that never closes.
func (l *LocalRuns) subscribe(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	if l == nil {
		return ch, func() {}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	set := l.waiters[id]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		l.waiters[id] = set
	}
	set[ch] = struct{}{}
	return ch, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		// After end the set is gone; a newer one may hold other waiters.
		delete(l.waiters[id], ch)
		if len(l.waiters[id]) == 0 {
			delete(l.waiters, id)
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
	if l.onEnd != nil {
		l.onEnd(id)
	}
}

type localRunsInterceptor struct {
	interceptor.WorkerInterceptorBase
	runs *LocalRuns
}

func (i *localRunsInterceptor) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &localRunsWorkflow{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, runs: i.runs}
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
