package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progressEvery is how often a long step reports how far it is.
const progressEvery = 15 * time.Second

// progress writes timestamped progress lines (to stderr), so that a long
// run is not silent.
type progress struct {
	w     io.Writer
	start time.Time
	mu    sync.Mutex
	step  string
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, start: time.Now()}
}

// logf writes one line prefixed with the time since the bench started.
func (p *progress) logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// begin announces a step; later reports of every name it.
func (p *progress) begin(format string, args ...any) {
	step := fmt.Sprintf(format, args...)
	p.mu.Lock()
	p.step = step
	p.mu.Unlock()
	p.logf("%s …", step)
}

// every reports status() every progressEvery until the returned func is
// called.
func (p *progress) every(status func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.mu.Lock()
				step := p.step
				p.mu.Unlock()
				p.logf("  %s: %s", step, status())
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
