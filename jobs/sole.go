package jobs

import (
	"context"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// soleCheckEvery is how often soleWorker asks Temporal again; an answer
// is used for twice as long, while the next check is under way.
const soleCheckEvery = time.Second

// soleWorker tells whether this process's worker is the only one polling
// the jobs' task queue, as the pollers Temporal lists for it say. Then
// every step of a job that changes it from pending (its run step starting,
// a cancel handled by its workflow, its workflow returning) happens in this
// process, which LocalRuns hears of at once.
type soleWorker struct {
	client    client.Client
	taskQueue string
	identity  string

	mu        sync.Mutex
	sole      bool
	checkedAt time.Time
	checking  bool
}

// isSole answers from the last check, starting the next one in the
// background once it is soleCheckEvery old; an answer older than twice
// that, or none yet, is false: not knowing costs a describe, never a stale
// answer.
func (w *soleWorker) isSole() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	age := time.Since(w.checkedAt)
	if age >= soleCheckEvery && !w.checking {
		w.checking = true
		go w.check()
	}
	return w.sole && age < 2*soleCheckEvery
}

func (w *soleWorker) check() {
	sole := w.listsOnlyUs()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sole, w.checkedAt, w.checking = sole, time.Now(), false
}

// listsOnlyUs reports whether every poller Temporal lists for the queue,
// of workflow and of activity tasks, is this process's worker. Temporal
// lists a poller for a few minutes after its last poll, so a worker that
// stopped keeps the answer false for a while: the safe side.
func (w *soleWorker) listsOnlyUs() bool {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	for _, kind := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		resp, err := w.client.DescribeTaskQueue(ctx, w.taskQueue, kind)
		if err != nil {
			return false
		}
		for _, p := range resp.GetPollers() {
			if p.GetIdentity() != w.identity {
				return false
			}
		}
	}
	return true
}
