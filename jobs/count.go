package jobs

import (
	"container/list"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Count cache bounds. A job-list page's total comes from Temporal's
// CountWorkflowExecutions, which counts the matching visibility rows, so
// its cost grows with the history (~linear) while the page itself is a
// LIMIT on an ordered index. Counts are therefore shared by every request
// of the process, per query:
//
//   - a count started at most countFresh ago is served as it is, or, for a
//     count that took long, at most countCostFactor times what it took
//     (up to half of countMaxStale): a count of a long history scans it
//     all and holds up the pages read meanwhile, so it runs less often;
//   - one started at most countMaxStale ago (or one a write of this
//     process made stale) is served too, while a single background count
//     per query replaces it;
//   - with no count, or an older one, the request waits for a count, one
//     per query however many requests wait.
//
// countQueries bounds the memory: the least recently read queries go first.
const (
	countFresh      = time.Second
	countMaxStale   = 10 * time.Second
	countQueries    = 256
	countCostFactor = 200
)

// countFunc counts the jobs a visibility query selects.
type countFunc func(ctx context.Context, query string) (int, error)

// countCache shares job counts among requests; see countFresh.
type countCache struct {
	count    countFunc
	fresh    time.Duration
	maxStale time.Duration
	max      int
	now      func() time.Time

	mu      sync.Mutex
	entries map[string]*list.Element // of *countEntry
	lru     list.List                // front: most recently read
	// writes counts the writes of this process that may change a count;
	// a count started before the latest one is stale.
	writes uint64

	// refreshes and waiting tell tests how many counts ran and how many
	// requests are waiting for one.
	refreshes atomic.Int64
	waiting   atomic.Int64
}

type countEntry struct {
	query string
	// n and at: the latest count and when it was started; has is false
	// until the first count ends.
	n   int
	at  time.Time
	has bool
	// took is how long that count took.
	took time.Duration
	// writes is countCache.writes when the count started.
	writes uint64
	// running is closed when the count under way ends; nil when none is.
	running chan struct{}
	err     error // of the count that closed running last
}

func newCountCache(count countFunc, fresh, maxStale time.Duration, max int) *countCache {
	return &countCache{
		count: count, fresh: fresh, maxStale: maxStale, max: max, now: time.Now,
		entries: make(map[string]*list.Element, max),
	}
}

// get returns the count of query under the rule of countFresh.
func (c *countCache) get(ctx context.Context, query string) (int, error) {
	c.mu.Lock()
	e := c.entry(query)
	age := c.now().Sub(e.at)
	switch {
	case e.has && age <= c.freshFor(e) && e.writes == c.writes:
		n := e.n
		c.mu.Unlock()
		return n, nil
	case e.has && age <= c.maxStale:
		if e.running == nil {
			c.start(ctx, e)
		}
		n := e.n
		c.mu.Unlock()
		return n, nil
	}
	if e.running == nil {
		c.start(ctx, e)
	}
	running := e.running
	c.mu.Unlock()

	c.waiting.Add(1)
	defer c.waiting.Add(-1)
	select {
	case <-running:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.err != nil && !e.has {
		return 0, e.err
	}
	if e.err != nil && c.now().Sub(e.at) > c.maxStale {
		return 0, e.err
	}
	return e.n, nil
}

// freshFor is how long e's count is served without a new one. c.mu is
// held.
func (c *countCache) freshFor(e *countEntry) time.Duration {
	return max(c.fresh, min(countCostFactor*e.took, c.maxStale/2))
}

// entry returns query's entry, made the most recent, creating it (and
// evicting the least recent beyond max) if needed. c.mu is held.
func (c *countCache) entry(query string) *countEntry {
	if el, ok := c.entries[query]; ok {
		c.lru.MoveToFront(el)
		return el.Value.(*countEntry)
	}
	e := &countEntry{query: query}
	c.entries[query] = c.lru.PushFront(e)
	for c.lru.Len() > c.max {
		// A count still running for an evicted entry ends unseen.
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.entries, oldest.Value.(*countEntry).query)
	}
	return e
}

// start begins a count for e in the background. c.mu is held. The count
// outlives the request that started it (others may wait for it), so it
// keeps only ctx's values, bounded by callTimeout.
func (c *countCache) start(ctx context.Context, e *countEntry) {
	done := make(chan struct{})
	e.running = done
	at, writes := c.now(), c.writes
	c.refreshes.Add(1)
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
		defer cancel()
		n, err := c.count(ctx, e.query)
		c.mu.Lock()
		defer c.mu.Unlock()
		e.err = err
		if err == nil {
			e.n, e.at, e.has, e.writes, e.took = n, at, true, writes, c.now().Sub(at)
		}
		e.running = nil
		close(done)
	}()
}

// changed marks every count stale: this process just submitted, canceled
// or deleted a job. The next read of each query starts a new count.
func (c *countCache) changed() {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
}

// len returns how many queries are cached.
func (c *countCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
