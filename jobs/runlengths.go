package jobs

import (
	"sync"
	"time"
)

// runLengths remembers how long each task's last run step took, so that a
// new job of a task whose runs are short can run its step locally
// (workflows.ExecuteInput.RunLocally). A wrong guess costs nothing but
// speed: a local step that runs long keeps its workflow task open with a
// heartbeat every few seconds, and the task's next job goes the regular way.
type runLengths struct {
	mu   sync.Mutex
	max  time.Duration            // the longest run step that counts as short; 0: none does
	last map[string]time.Duration // task id → its latest run step
}

// Defaults of the prediction: a run step up to DefaultLocalRunMax counts
// as short, and at most runLengthsSize tasks are remembered.
const (
	DefaultLocalRunMax = time.Second
	runLengthsSize     = 4096
)

func newRunLengths() *runLengths {
	return &runLengths{max: DefaultLocalRunMax, last: map[string]time.Duration{}}
}

func (r *runLengths) setMax(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.max = d
}

// observe records that a run step of taskID took took.
func (r *runLengths) observe(taskID string, took time.Duration) {
	if taskID == "" || took < 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.last[taskID]; !ok && len(r.last) >= runLengthsSize {
		for id := range r.last { // any one: a forgotten task only runs the regular way once
			delete(r.last, id)
			break
		}
	}
	r.last[taskID] = took
}

// short reports whether taskID's latest run step was short; a task never
// seen is not.
func (r *runLengths) short(taskID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	took, ok := r.last[taskID]
	return ok && r.max > 0 && took <= r.max
}
