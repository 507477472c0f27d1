package api

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/chaptask/chaptask/jobs"
)

// parseJobIDQuery reads query parameter name as a job id (see parseJobID);
// "" when it is absent.
func parseJobIDQuery(q url.Values, name string) (string, []fieldError) {
	if !q.Has(name) {
		return "", nil
	}
	id, err := parseJobID(q.Get(name))
	if err != nil {
		return "", []fieldError{queryError(name, "must be a job id", "value_error.ulid")}
	}
	return id, nil
}

// childPollEvery is how often a $stream with child events lists the job's
// children. Each poll is a visibility query (plus a describe per live
// child), so it is slower than the output poll.
const childPollEvery = time.Second

// childEvents sends a "child" event, the child job's record, each time a
// child of job parentID appears or changes status, for ?events=children.
type childEvents struct {
	js       *jobs.Service
	parentID string
	sse      *sseWriter
	offset   func() int64

	mu   sync.Mutex
	seen map[string]string // child id → last status sent
	stop func()
}

// startChildEvents polls the children until stop is called or a poll fails
// (then it calls fail).
func startChildEvents(ctx context.Context, js *jobs.Service, parentID string, sse *sseWriter, offset func() int64, fail func(error)) *childEvents {
	c := &childEvents{js: js, parentID: parentID, sse: sse, offset: offset, seen: map[string]string{}}
	c.stop = pollEvery(ctx, childPollEvery, c.send, fail)
	return c
}

// finish stops polling and sends what changed since the last poll.
func (c *childEvents) finish(ctx context.Context) error {
	c.stop()
	return c.send(ctx)
}

// send lists the children and sends the changed ones, oldest first.
func (c *childEvents) send(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	list, _, err := c.js.List(ctx, jobs.Filter{ParentJobID: c.parentID})
	if err != nil {
		return err
	}
	for i := len(list) - 1; i >= 0; i-- {
		child := &list[i]
		if c.seen[child.ID] == child.Status {
			continue
		}
		c.seen[child.ID] = child.Status
		if err := c.sse.event("child", c.offset(), child); err != nil {
			return err
		}
	}
	return nil
}
