package cli

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// redrawEvery is how often a terminal's progress line is redrawn, which
// keeps the spinner and elapsed time moving between job events.
const redrawEvery = 100 * time.Millisecond

var spinnerFrames = []string{"|", "/", "-", `\`}

// progress shows a job being waited for on stderr: on a terminal one line
// redrawn in place (spinner, status, elapsed time); otherwise a plain line
// per change, which reads well in logs.
type progress struct {
	w     io.Writer
	tty   bool
	id    string
	start time.Time

	mu     sync.Mutex
	line   string // status text of the last event
	frame  int
	drawn  bool // a terminal line is on screen
	stop   chan struct{}
	closed chan struct{}
}

// newProgress returns the display for waiting on job id, or nil when none
// is wanted: -q, or --json without a terminal to draw on.
func (e *env) newProgress(id string) *progress {
	if e.quiet || (e.json && !e.tty) {
		return nil
	}
	p := &progress{w: e.stderr, tty: e.tty, id: id, start: time.Now()}
	if p.tty {
		p.stop, p.closed = make(chan struct{}), make(chan struct{})
		go p.spin()
	}
	return p
}

// update takes a new state of the job.
func (p *progress) update(j *job) {
	if p == nil {
		return
	}
	text := j.Status
	if pr := j.Progress; pr != nil {
		if pr.Percent != nil {
			text += fmt.Sprintf(" %.0f%%", *pr.Percent)
		}
		if pr.Message != "" {
			text += " " + oneLine(pr.Message, 60)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if text == p.line {
		return
	}
	p.line = text
	if p.tty {
		p.draw()
		return
	}
	if j.terminal() {
		text += " after " + p.elapsed(j)
	}
	fmt.Fprintf(p.w, "job %s: %s\n", p.id, text)
}

func (p *progress) spin() {
	defer close(p.closed)
	tick := time.NewTicker(redrawEvery)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
			p.mu.Lock()
			p.frame++
			p.draw()
			p.mu.Unlock()
		}
	}
}

// draw rewrites the terminal line; p.mu is held.
func (p *progress) draw() {
	line := p.line
	if line == "" {
		line = "submitted"
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s job %s %s %s", spinnerFrames[p.frame%len(spinnerFrames)], p.id, line, duration(time.Since(p.start)))
	p.drawn = true
}

// finish stops the display. On a terminal it leaves one line saying how
// the job ended (j is its last state, nil if none arrived).
func (p *progress) finish(j *job) {
	if p == nil || !p.tty {
		return
	}
	close(p.stop)
	<-p.closed
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	if j != nil && j.terminal() {
		fmt.Fprintf(p.w, "job %s %s after %s\n", p.id, j.Status, p.elapsed(j))
	}
}

// elapsed is how long the finished job j took from its submission to its
// end, by the server's clock; a watch begun late must not report only the
// time it waited itself. Without those times, the time waited.
func (p *progress) elapsed(j *job) string {
	if j.FinishedAt != nil && !j.SubmittedAt.IsZero() && !j.FinishedAt.Before(j.SubmittedAt) {
		return duration(j.FinishedAt.Sub(j.SubmittedAt))
	}
	return duration(time.Since(p.start))
}
