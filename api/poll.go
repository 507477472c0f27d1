package api

import (
	"context"
	"sync"
	"time"
)

// pollEvery calls poll every interval in a goroutine of its own until ctx
// ends, stop is called, or poll fails (then fail gets the error, unless ctx
// ended first). stop may be called more than once; it returns once poll has.
func pollEvery(ctx context.Context, interval time.Duration, poll func(context.Context) error, fail func(error)) (stop func()) {
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-tick.C:
			}
			if err := poll(pctx); err != nil {
				if pctx.Err() == nil {
					fail(err)
				}
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }
}
