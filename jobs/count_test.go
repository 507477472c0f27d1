package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chaptask/chaptask/internal/testclient"
)

// fakeCounts answers counts from a map, holding each count until the test
// releases it when gate is set.
type fakeCounts struct {
	mu    sync.Mutex
	n     map[string]int
	err   error
	gate  chan struct{}
	calls int
	// clock, when set, moves by takes during each count.
	clock *fakeClock
	takes time.Duration
}

func (f *fakeCounts) count(ctx context.Context, query string) (int, error) {
	f.mu.Lock()
	f.calls++
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.clock != nil {
		f.clock.advance(f.takes)
	}
	return f.n[query], f.err
}

func (f *fakeCounts) set(query string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n[query] = n
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) read() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testCountCache is a countCache over f, serving counts up to 1 s old and,
// while one replaces them, up to 10 s old.
func testCountCache(f *fakeCounts, max int) (*countCache, *fakeClock) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := newCountCache(f.count, time.Second, 10*time.Second, max)
	c.now = clock.read
	return c, clock
}

func mustCount(t *testing.T, c *countCache, query string) int {
	t.Helper()
	n, err := c.get(t.Context(), query)
	if err != nil {
		t.Fatalf("count %q: %v", query, err)
	}
	return n
}

// waitIdle waits until no count of c is running.
func waitIdle(t *testing.T, c *countCache) {
	t.Helper()
	testclient.Eventually(t, 10*time.Second, time.Millisecond, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for el := c.lru.Front(); el != nil; el = el.Next() {
			if el.Value.(*countEntry).running != nil {
				return false
			}
		}
		return true
	}, func() string { return "a count is still running" })
}

func TestCountCacheStaleness(t *testing.T) {
	f := &fakeCounts{n: map[string]int{"q": 5}}
	c, clock := testCountCache(f, 4)

	// No count yet: the read waits for one.
	if n := mustCount(t, c, "q"); n != 5 || c.refreshes.Load() != 1 {
		t.Fatalf("first read = %d after %d counts, want 5 after 1", n, c.refreshes.Load())
	}
	f.set("q", 6)

	// Fresh: served as it is.
	clock.advance(time.Second)
	if n := mustCount(t, c, "q"); n != 5 || c.refreshes.Load() != 1 {
		t.Fatalf("fresh read = %d after %d counts, want 5 after 1", n, c.refreshes.Load())
	}

	// Stale: served while one count replaces it.
	clock.advance(time.Millisecond)
	if n := mustCount(t, c, "q"); n != 5 || c.refreshes.Load() != 2 {
		t.Fatalf("stale read = %d after %d counts, want 5 after 2", n, c.refreshes.Load())
	}
	waitIdle(t, c)
	if n := mustCount(t, c, "q"); n != 6 || c.refreshes.Load() != 2 {
		t.Fatalf("read after the refresh = %d after %d counts, want 6 after 2", n, c.refreshes.Load())
	}

	// A write of this process makes even a fresh count stale.
	f.set("q", 7)
	c.changed()
	if n := mustCount(t, c, "q"); n != 6 || c.refreshes.Load() != 3 {
		t.Fatalf("read after a write = %d after %d counts, want 6 after 3", n, c.refreshes.Load())
	}
	waitIdle(t, c)
	if n := mustCount(t, c, "q"); n != 7 {
		t.Fatalf("second read after a write = %d, want 7", n)
	}

	// Too old: the read waits for a new count.
	f.set("q", 8)
	clock.advance(10*time.Second + time.Millisecond)
	if n := mustCount(t, c, "q"); n != 8 || c.refreshes.Load() != 4 {
		t.Fatalf("read of a too old count = %d after %d counts, want 8 after 4", n, c.refreshes.Load())
	}

	// A failed count: a stale value is still served, a too old one is not.
	f.mu.Lock()
	f.err = errors.New("visibility down")
	f.mu.Unlock()
	clock.advance(2 * time.Second)
	if n := mustCount(t, c, "q"); n != 8 {
		t.Fatalf("stale read while counts fail = %d, want 8", n)
	}
	waitIdle(t, c)
	clock.advance(10 * time.Second)
	if _, err := c.get(t.Context(), "q"); err == nil {
		t.Fatal("read of a too old count while counts fail: no error")
	}
}

// Concurrent readers of a query with no count share one.
func TestCountCacheOneCountPerQuery(t *testing.T) {
	f := &fakeCounts{n: map[string]int{"q": 3}, gate: make(chan struct{})}
	c, _ := testCountCache(f, 4)
	const readers = 20
	var wg sync.WaitGroup
	results := make(chan int, readers)
	for range readers {
		wg.Go(func() {
			n, err := c.get(context.Background(), "q")
			if err != nil {
				t.Errorf("count: %v", err)
			}
			results <- n
		})
	}
	testclient.Eventually(t, 10*time.Second, time.Millisecond, func() bool { return c.waiting.Load() == readers },
		func() string { return fmt.Sprintf("%d readers waiting, want %d", c.waiting.Load(), readers) })
	close(f.gate)
	wg.Wait()
	close(results)
	for n := range results {
		if n != 3 {
			t.Errorf("a reader got %d, want 3", n)
		}
	}
	if got := c.refreshes.Load(); got != 1 || f.calls != 1 {
		t.Errorf("%d counts started (%d calls) for %d readers, want 1", got, f.calls, readers)
	}

	// Stale: readers get the old count while one count runs.
	f.mu.Lock()
	f.gate = make(chan struct{})
	f.mu.Unlock()
	c.changed()
	for range readers {
		if n := mustCount(t, c, "q"); n != 3 {
			t.Fatalf("stale read = %d, want 3", n)
		}
	}
	if got := c.refreshes.Load(); got != 2 {
		t.Errorf("%d counts started after a write and %d stale reads, want 2", got, readers)
	}
	f.mu.Lock()
	close(f.gate)
	f.mu.Unlock()
	waitIdle(t, c)
}

func TestCountCacheBound(t *testing.T) {
	f := &fakeCounts{n: map[string]int{}}
	c, _ := testCountCache(f, 3)
	for i := range 5 {
		f.set(fmt.Sprint(i), i)
		mustCount(t, c, fmt.Sprint(i))
	}
	if c.len() != 3 {
		t.Fatalf("%d queries cached, want 3", c.len())
	}
	// The least recently read went first: 0 and 1 are counted again, 4 is not.
	calls := f.calls
	mustCount(t, c, "4")
	mustCount(t, c, "0")
	if f.calls != calls+1 {
		t.Errorf("%d counts for a cached and an evicted query, want 1", f.calls-calls)
	}
}

// TestCountCacheSlowCountsRunLessOften: a count that took 20 ms is served
// for 200 times that (4 s) before a new one starts, one that took 1 ms for
// the usual second, and none for longer than half the stale bound.
func TestCountCacheSlowCountsRunLessOften(t *testing.T) {
	for _, tc := range []struct {
		takes, fresh time.Duration
	}{
		{time.Millisecond, time.Second},
		{20 * time.Millisecond, 4 * time.Second},
		{time.Second, 5 * time.Second},
	} {
		f := &fakeCounts{n: map[string]int{"q": 5}, takes: tc.takes}
		c, clock := testCountCache(f, 4)
		f.clock = clock
		mustCount(t, c, "q")
		clock.advance(tc.fresh - tc.takes)
		if mustCount(t, c, "q"); c.refreshes.Load() != 1 {
			t.Errorf("count taking %s: a new count %s after the last began; want it served as it is", tc.takes, tc.fresh)
		}
		clock.advance(time.Millisecond)
		if mustCount(t, c, "q"); c.refreshes.Load() != 2 {
			t.Errorf("count taking %s: no new count %s after the last began", tc.takes, tc.fresh+time.Millisecond)
		}
		waitIdle(t, c)
	}
}
