package jobs

import (
	"sync"
	"time"
)

// terminalCache keeps records of finished jobs. A finished job never
// changes in Temporal, so reading one again costs nothing; entries expire
// after ttl so that a job deleted through another API process, or by
// retention, disappears here too, and the oldest entries go first when the
// cache is full. Records that lack part of their data (a history read that
// failed) are not kept.
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

// get returns a copy of the finished job's record cached under key.
func (c *terminalCache) get(key string, now time.Time) (*Job, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || now.After(e.expires) {
		return nil, false
	}
	j := e.job
	return &j, true
}

// put stores a finished job's record under key.
func (c *terminalCache) put(key string, j *Job, now time.Time) {
	if !j.Terminal() || j.partial {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok {
		for len(c.order) >= c.max {
			delete(c.entries, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, key)
	}
	c.entries[key] = cachedJob{job: *j, expires: now.Add(c.ttl)}
}

// forget drops the record under key, e.g. once its job is deleted.
func (c *terminalCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key) // its slot in order is reclaimed when it reaches the front
}
