package jobs

import (
	"context"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/chaptask/chaptask/workflows"
)

// Filter selects jobs for List.
type Filter struct {
	// Status is one of Statuses, or "" for every job.
	Status string
	// TaskID, if set, selects the jobs of one task (a canonical ULID).
	TaskID string
	// ParentJobID, if set, selects the child jobs of one job.
	ParentJobID string
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
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	query := "WorkflowType = '" + workflows.ExecuteTaskWorkflow + "'"
	if f.TaskID != "" {
		query += " AND " + workflows.SearchAttrTaskID + " = '" + f.TaskID + "'"
	}
	if f.ParentJobID != "" {
		query += " AND " + workflows.SearchAttrParentJob + " = '" + f.ParentJobID + "'"
	}
	query += visibilityFilter(f.Status)

	// Pending and running share one visibility status, so those filters
	// read every live job and paginate after telling them apart.
	live := f.Status == StatusPending || f.Status == StatusRunning
	paged := f.Size > 0 && !live

	// The total comes from the shared count cache (countFresh), read while
	// the page is: a count is linear in the history, a page is not.
	type countResult struct {
		n   int
		err error
	}
	counted := make(chan countResult, 1)
	if paged {
		go func() {
			n, err := s.counts.get(ctx, query)
			counted <- countResult{n, err}
		}()
	}

	limit := maxListAll
	if paged {
		limit = f.Page * f.Size
	}
	jobs, more, err := s.listQuery(ctx, query, limit)
	if err != nil {
		return nil, 0, err
	}
	// What the listing proves: at least len(jobs) jobs exist, exactly
	// that many when it ended before limit.
	proven, exact := len(jobs), !more
	if paged {
		// Visibility pages by token, so earlier pages are read and dropped;
		// only the requested page is completed.
		jobs = pageOf(jobs, f.Page, f.Size)
	}
	if err := s.refineAll(ctx, jobs); err != nil {
		return nil, 0, err
	}

	switch {
	case live:
		kept := jobs[:0]
		for _, j := range jobs {
			if j.Status == f.Status {
				kept = append(kept, j)
			}
		}
		total := len(kept)
		if f.Size > 0 {
			kept = pageOf(kept, f.Page, f.Size)
		}
		return kept, total, nil
	case paged && exact:
		return jobs, proven, nil
	case paged:
		c := <-counted
		if c.err != nil {
			return nil, 0, c.err
		}
		// A cached count may predate jobs the listing shows.
		return jobs, max(c.n, proven), nil
	default:
		return jobs, len(jobs), nil
	}
}

// listQuery reads up to limit executions matching query, and whether
// visibility may hold more.
func (s *Service) listQuery(ctx context.Context, query string, limit int) ([]Job, bool, error) {
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
			return nil, false, s.wrap(err, "list jobs")
		}
		for _, info := range resp.GetExecutions() {
			jobs = append(jobs, *jobFromInfo(info))
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return jobs, false, nil
		}
	}
	return jobs, true, nil
}

// countJobs counts the executions matching query.
func (s *Service) countJobs(ctx context.Context, query string) (int, error) {
	resp, err := s.client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: s.namespace, Query: query})
	if err != nil {
		return 0, s.wrap(err, "count jobs")
	}
	return int(resp.GetCount()), nil
}

// refineAll completes every job of a list: live ones are described to tell
// pending from running, closed ones get their artifact or failure, from
// closedRuns when an earlier read completed the same run.
func (s *Service) refineAll(ctx context.Context, jobs []Job) error {
	now := time.Now()
	var live, closed []*Job
	for i := range jobs {
		j := &jobs[i]
		if j.Status == StatusPending {
			live = append(live, j)
		} else if cached, ok := s.closedRuns.get(j.runKey(), now); ok {
			*j = *cached
		} else {
			closed = append(closed, j)
		}
	}
	if err := s.complete(ctx, closed); err != nil {
		return err
	}
	for _, j := range closed {
		s.closedRuns.put(j.runKey(), j, now)
	}
	s.each(live, func(*Job) bool { return true }, func(j *Job) {
		if fresh, err := s.Get(ctx, j.ID); err == nil {
			*j = *fresh
		}
	})
	return nil
}

func pageOf(jobs []Job, page, size int) []Job {
	start := (page - 1) * size
	if start >= len(jobs) {
		return []Job{}
	}
	return jobs[start:min(start+size, len(jobs))]
}
