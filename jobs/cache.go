package jobs

import (
	"sync"
	"time"
)

// terminalCache keeps records of finished jobs. A finished job never
// changes in Temporal, so reading one again costs nothing; entries expire
// after ttl so that a job deleted through another API process, or by
// retention, disappears here too, and the oldest entries go first when the
// cache is full.
type terminalCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	entries map[string]cachedJob
	order   []string // insertion order, for eviction
}

type cachedJob struct {
	job     Job
	expires time.Time
}

func newTerminalCache(max int, ttl time.Duration) *terminalCache {
	return &terminalCache{ttl: ttl, max: max, entries: make(map[string]cachedJob, max)}
}

// get returns a copy of the cached record of a finished job.
func (c *terminalCache) get(id string, now time.Time) (*Job, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || now.After(e.expires) {
		return nil, false
	}
	j := e.job
	return &j, true
}

// put stores a finished job's record.
func (c *terminalCache) put(j *Job, now time.Time) {
	if !j.Terminal() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[j.ID]; !ok {
		for len(c.order) >= c.max {
			delete(c.entries, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, j.ID)
	}
	c.entries[j.ID] = cachedJob{job: *j, expires: now.Add(c.ttl)}
}

// forget drops a job, e.g. once it is deleted.
func (c *terminalCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id) // its slot in order is reclaimed when it reaches the front
}
