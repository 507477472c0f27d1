package jobs

import (
	"context"
	"time"
)

// SetPendingFresh changes how long s answers a pending job from its last
// describe while its worker is the task queue's only one, so that a test
// can tell "the worker said it started" from "the bound ran out".
func SetPendingFresh(s *Service, d time.Duration) {
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	s.live.pendingFresh = d
}

// CountsSay makes every count of s answer n, as a count that predates the
// latest jobs would.
func CountsSay(s *Service, n int) {
	s.counts = newCountCache(func(context.Context, string) (int, error) { return n, nil }, countFresh, countMaxStale, countQueries)
}
