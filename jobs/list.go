package jobs

import (
	"context"
	"sync"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/chaptask/chaptask/workflows"
)

// Filter selects jobs for List.
type Filter struct {
	// Status is one of Statuses, or "" for every job.
	Status string
	// Page and Size paginate (Page counts from 1); Size 0 lists everything.
	Page, Size int
}

// maxListAll bounds an unpaginated list.
const maxListAll = 10_000

// describeParallelism bounds concurrent describes when refining live jobs.
const describeParallelism = 8

// List returns jobs newest first, and the number of jobs the filter selects.
// Temporal's SQL visibility orders live jobs first, then by finish time.
func (s *Service) List(ctx context.Context, f Filter) ([]Job, int, error) {
	query := "WorkflowType = '" + workflows.ExecuteTaskWorkflow + "'"
	switch f.Status {
	case StatusCompleted:
		query += " AND ExecutionStatus = 'Completed'"
	case StatusCanceled:
		query += " AND ExecutionStatus = 'Canceled'"
	case StatusFailed:
		query += " AND (ExecutionStatus = 'Failed' OR ExecutionStatus = 'Terminated' OR ExecutionStatus = 'TimedOut')"
	case StatusPending, StatusRunning:
		query += " AND ExecutionStatus = 'Running'"
	}

	// Pending and running share one visibility status, so those filters
	// read every live job and paginate after telling them apart.
	live := f.Status == StatusPending || f.Status == StatusRunning
	limit := maxListAll
	if f.Size > 0 && !live {
		limit = f.Page * f.Size
	}
	jobs, err := s.listQuery(ctx, query, limit)
	if err != nil {
		return nil, 0, err
	}
	s.refineAll(ctx, jobs)

	if live {
		kept := jobs[:0]
		for _, j := range jobs {
			if j.Status == f.Status {
				kept = append(kept, j)
			}
		}
		jobs = kept
		total := len(jobs)
		if f.Size > 0 {
			jobs = pageOf(jobs, f.Page, f.Size)
		}
		return jobs, total, nil
	}

	if f.Size == 0 {
		return jobs, len(jobs), nil
	}
	resp, err := s.client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: s.namespace, Query: query})
	if err != nil {
		return nil, 0, s.wrap(err, "count jobs")
	}
	return pageOf(jobs, f.Page, f.Size), int(resp.GetCount()), nil
}

// listQuery reads up to limit executions matching query.
func (s *Service) listQuery(ctx context.Context, query string, limit int) ([]Job, error) {
	var jobs []Job
	var token []byte
	for len(jobs) < limit {
		resp, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace:     s.namespace,
			PageSize:      int32(min(limit-len(jobs), 1000)),
			NextPageToken: token,
			Query:         query,
		})
		if err != nil {
			return nil, s.wrap(err, "list jobs")
		}
		for _, info := range resp.GetExecutions() {
			jobs = append(jobs, *jobFromInfo(info))
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	return jobs, nil
}

// refineAll tells pending from running for the live jobs in jobs.
func (s *Service) refineAll(ctx context.Context, jobs []Job) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, describeParallelism)
	for i := range jobs {
		if jobs[i].Status != StatusPending {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(j *Job) {
			defer func() { <-sem; wg.Done() }()
			fresh, err := s.Get(ctx, j.ID)
			if err == nil {
				*j = *fresh
			}
		}(&jobs[i])
	}
	wg.Wait()
}

func pageOf(jobs []Job, page, size int) []Job {
	start := (page - 1) * size
	if start >= len(jobs) {
		return []Job{}
	}
	return jobs[start:min(start+size, len(jobs))]
}
