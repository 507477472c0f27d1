package jobs

import (
	"context"
	"errors"
	"sync"
)

// MaxBulk bounds how many jobs one bulk call handles.
const MaxBulk = 1000

// bulkParallelism bounds the cancellations in flight for one bulk call.
const bulkParallelism = 16

// Outcomes of cancelling one job in a bulk call.
const (
	// Canceled means Temporal recorded the cancellation request; the job
	// turns canceled once its command is dead.
	Canceled = "canceled"
	// AlreadyFinished means the job had ended and was left alone.
	AlreadyFinished = "already_finished"
	// NotFound means no job has the id.
	NotFound = "not_found"
	// Failed means Temporal could not be asked; Err says why.
	Failed = "failed"
)

// CancelOutcome is what became of one job in CancelMany.
type CancelOutcome struct {
	ID      string
	Outcome string
	Err     error
}

// CancelMany asks every live job in ids to stop, at most bulkParallelism at
// a time, and reports each id's outcome in the order given. Only when
// Temporal could be reached for none of them is the answer ErrUnavailable.
func (s *Service) CancelMany(ctx context.Context, ids []string) ([]CancelOutcome, error) {
	out := make([]CancelOutcome, len(ids))
	sem := make(chan struct{}, bulkParallelism)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = s.cancelOne(ctx, id)
		}()
	}
	wg.Wait()
	unavailable := 0
	for _, o := range out {
		if errors.Is(o.Err, ErrUnavailable) {
			unavailable++
		}
	}
	if len(ids) > 0 && unavailable == len(ids) {
		return nil, out[0].Err
	}
	return out, nil
}

func (s *Service) cancelOne(ctx context.Context, id string) CancelOutcome {
	job, err := s.Get(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return CancelOutcome{ID: id, Outcome: NotFound}
	case err != nil:
		return CancelOutcome{ID: id, Outcome: Failed, Err: err}
	case job.Terminal():
		return CancelOutcome{ID: id, Outcome: AlreadyFinished}
	}
	// Temporal accepts a cancel of a job that closed since the read as a
	// no-op, so a job ending right now is reported canceled yet keeps its
	// result.
	switch err := s.Cancel(ctx, id); {
	case errors.Is(err, ErrNotFound):
		return CancelOutcome{ID: id, Outcome: NotFound}
	case err != nil:
		return CancelOutcome{ID: id, Outcome: Failed, Err: err}
	}
	return CancelOutcome{ID: id, Outcome: Canceled}
}

// LiveIDs returns the ids of up to MaxBulk jobs with status (pending or
// running), of one task if taskID is set, and whether more matched.
func (s *Service) LiveIDs(ctx context.Context, status, taskID string) ([]string, bool, error) {
	list, total, err := s.List(ctx, Filter{Status: status, TaskID: taskID})
	if err != nil {
		return nil, false, err
	}
	ids := make([]string, 0, min(len(list), MaxBulk))
	for _, j := range list[:min(len(list), MaxBulk)] {
		ids = append(ids, j.ID)
	}
	return ids, total > MaxBulk, nil
}
