package jobs

import (
	"context"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
)

// Watch intervals. A pending job's start is not a history event, so it is
// polled, backing off; a running job is waited for (awaitEnd), but never
// longer than closeWaitSlice at a time: the server misses a small share of
// long-poll wake-ups, and a missed one must cost a slice, not the 20 s
// long-poll expiry.
const (
	pendingPollMin = 5 * time.Millisecond
	pendingPollMax = 250 * time.Millisecond
	closeWaitSlice = time.Second
)

// Watch calls emit with the job's record now and after every status change
// or progress report (seen within a slice of closeWaitSlice),
// until it has emitted a terminal record, ctx ends, or emit fails.
func (s *Service) Watch(ctx context.Context, id string, emit func(*Job) error) error {
	ended, unsubscribe := s.local.subscribe(id)
	defer unsubscribe()
	last, lastProgress := "", Progress{}
	pendingPoll := pendingPollMin
	for {
		job, err := s.Get(ctx, id)
		if err != nil {
			return err
		}
		progress := Progress{}
		if job.Progress != nil {
			progress = *job.Progress
		}
		if job.Status != last || !progress.UpdatedAt.Equal(lastProgress.UpdatedAt) {
			if err := emit(job); err != nil {
				return err
			}
			last, lastProgress = job.Status, progress
		}
		if job.Terminal() {
			return nil
		}
		if job.Status == StatusPending {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pendingPoll):
			}
			pendingPoll = min(2*pendingPoll, pendingPollMax)
			continue
		}
		pendingPoll = pendingPollMin
		s.awaitEnd(ctx, id, ended, false)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// Wait returns the job's record once it is terminal, or its current record
// when ctx ends first (ErrNotFound and ErrUnavailable as Get). It never
// busy-polls: it waits for the end in slices (awaitEnd), so a missed
// wake-up costs at most one slice.
func (s *Service) Wait(ctx context.Context, id string) (*Job, error) {
	// Subscribed before the first read, so an end between the read and
	// the wait is not missed.
	ended, unsubscribe := s.local.subscribe(id)
	defer unsubscribe()
	for {
		job, err := s.Get(context.WithoutCancel(ctx), id)
		if err != nil || job.Terminal() || ctx.Err() != nil {
			return job, err
		}
		s.awaitEnd(ctx, id, ended, job.Status == StatusPending)
	}
}

// awaitEnd returns when the live job id may have ended, or after about a
// slice. A job this process's worker executes is waited for locally until
// its workflow returns; only then, or for a job running elsewhere, does it
// long-poll Temporal for the close event, which by then is the job's next
// event. A job last read pending is first waited for to begin here, when
// this process's worker is the queue's only one.
func (s *Service) awaitEnd(ctx context.Context, id string, ended <-chan struct{}, pending bool) {
	// The caller re-reads the job next: from Temporal, not from a describe
	// made before the wait.
	defer s.live.stale(id)
	if pending && !s.local.runsHere(id) && s.live.quietPending != nil && s.live.quietPending() {
		// Every job of the queue runs here, this one too once a slot
		// frees: wait for it to begin rather than ask Temporal. Only for
		// a job read pending: one read running may have begun and ended
		// here already, with its close not yet recorded, and would wait
		// the whole slice for a start that is over.
		begun, drop := s.local.subscribeStart(id)
		defer drop()
		if !s.local.runsHere(id) && !awaitSignal(ctx, begun, ended) {
			return
		}
	}
	if s.local.runsHere(id) && !awaitSignal(ctx, ended, nil) {
		return // still running, or evicted without a word: the caller re-reads it
	}
	s.waitClose(ctx, id, closeWaitSlice)
}

// awaitSignal waits up to closeWaitSlice for either channel (a nil one
// never fires); false when the slice or ctx ended first.
func awaitSignal(ctx context.Context, a, b <-chan struct{}) bool {
	slice := time.NewTimer(closeWaitSlice)
	defer slice.Stop()
	select {
	case <-a:
	case <-b:
	case <-slice.C:
		return false
	case <-ctx.Done():
		return false
	}
	return true
}

// waitClose returns when the job closes or after at most d.
func (s *Service) waitClose(ctx context.Context, id string, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	// Naming the run spares the server a look-up of the current one.
	iter := s.client.GetWorkflowHistory(ctx, id, s.live.runOf(id), true, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	if iter.HasNext() {
		_, _ = iter.Next() // a timeout is the expected way out; the caller re-reads the job
	}
}
