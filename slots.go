package chaptask

import (
	"context"
	"sync"

	"go.temporal.io/sdk/worker"
)

// runSlots are a worker's activity slots: at most max run steps hold one,
// except that a function waiting for its child jobs lends its slot to
// other jobs while it waits. Without that, parents waiting on every slot
// would leave their children none to run in, and wait until their timeout.
// A parent whose wait ends takes its slot back at once, so the worker may
// run a few more steps than max for a moment (no more than the parents that
// waited); no new step starts until it is back under max.
type runSlots struct {
	max int

	mu      sync.Mutex
	used    int
	changed chan struct{} // closed and replaced when used drops
}

var _ worker.SlotSupplier = (*runSlots)(nil)

func newRunSlots(max int) *runSlots {
	return &runSlots{max: max, changed: make(chan struct{})}
}

// ReserveSlot blocks until a slot is free (worker.SlotSupplier).
func (s *runSlots) ReserveSlot(ctx context.Context, _ worker.SlotReservationInfo) (*worker.SlotPermit, error) {
	for {
		if p := s.TryReserveSlot(nil); p != nil {
			return p, nil
		}
		s.mu.Lock()
		changed := s.changed
		free := s.used < s.max
		s.mu.Unlock()
		if free {
			continue // freed between the two locks
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// TryReserveSlot takes a free slot or returns nil (worker.SlotSupplier).
func (s *runSlots) TryReserveSlot(worker.SlotReservationInfo) *worker.SlotPermit {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used >= s.max {
		return nil
	}
	s.used++
	return &worker.SlotPermit{}
}

func (s *runSlots) MarkSlotUsed(worker.SlotMarkUsedInfo) {}

// ReleaseSlot frees a slot (worker.SlotSupplier).
func (s *runSlots) ReleaseSlot(worker.SlotReleaseInfo) { s.free() }

func (s *runSlots) MaxSlots() int { return s.max }

// Lend frees the slot of a run step that starts waiting (jobs.SlotLender).
func (s *runSlots) Lend() { s.free() }

// Reclaim takes the slot back when the wait ends, even above max
// (jobs.SlotLender): blocking here could leave a parent whose children
// are done queued behind pollers that hold slots while they wait for work.
func (s *runSlots) Reclaim() {
	s.mu.Lock()
	s.used++
	s.mu.Unlock()
}

func (s *runSlots) free() {
	s.mu.Lock()
	s.used--
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// AcquireRun takes a slot for a local run step (jobs.RunGate): the SDK's
// local-activity slots also serve the database steps, which must not wait
// behind commands.
func (s *runSlots) AcquireRun(ctx context.Context) error {
	_, err := s.ReserveSlot(ctx, nil)
	return err
}

// ReleaseRun frees a local run step's slot (jobs.RunGate).
func (s *runSlots) ReleaseRun() { s.free() }

// workerTuner gives the worker's activities the run slots, and bounds its
// workflow tasks: a job whose run step is local holds its workflow task
// while it waits for a run slot, and a worker that took every queued job
// that way would keep them from other workers. Everything else gets the
// SDK's default sizes (a Tuner replaces every MaxConcurrent… option).
func workerTuner(slots *runSlots) worker.WorkerTuner {
	const sdkDefault = 1000
	fixed := func(size int) worker.SlotSupplier {
		s, _ := worker.NewFixedSizeSlotSupplier(size) // fails only for a size below 1
		return s
	}
	tuner, _ := worker.NewCompositeTuner(worker.CompositeTunerOptions{ // never fails
		WorkflowSlotSupplier:        fixed(workflowTaskSlots(slots.max)),
		ActivitySlotSupplier:        slots,
		LocalActivitySlotSupplier:   fixed(sdkDefault),
		NexusSlotSupplier:           fixed(sdkDefault),
		SessionActivitySlotSupplier: fixed(sdkDefault),
	})
	return tuner
}

// workflowTaskSlots is how many workflow tasks a worker holds at once: its
// pollers' (each holds a slot while it waits), one per run slot, and as
// many again for jobs waiting for one, so a slot that frees is taken at
// once.
func workflowTaskSlots(maxConcurrency int) int {
	return workflowTaskPollers + 2*maxConcurrency
}

// workflowTaskPollers is the SDK's default number of workflow task polls.
const workflowTaskPollers = 2
