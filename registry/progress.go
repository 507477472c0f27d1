package registry

import (
	"math"
	"time"
)

// ProgressUpdate is one progress report of a running function.
type ProgressUpdate struct {
	// Percent is how much of the work is done, from 0 to 100.
	Percent float64 `json:"percent"`
	// Message describes the current step.
	Message string `json:"message"`
	// At is when the report was made, in UTC.
	At time.Time `json:"at"`
}

// Progress lets a running function report how far it got. Functions receive
// one by declaring a *Progress argument; the caller of Call decides where the
// reports go (the worker turns them into Temporal activity heartbeats). When
// the caller passes none, the function gets a reporter that discards them.
type Progress struct {
	report func(ProgressUpdate)
}

// NewProgress returns a reporter that hands every update to report. A nil
// report discards updates. report must be safe for concurrent use if the
// function reports from several goroutines.
func NewProgress(report func(ProgressUpdate)) *Progress {
	return &Progress{report: report}
}

// Report sends an update. Percent is clamped to 0..100 (NaN counts as 0).
// Report on a nil *Progress does nothing.
func (p *Progress) Report(percent float64, message string) {
	if p == nil || p.report == nil {
		return
	}
	switch {
	case math.IsNaN(percent) || percent < 0:
		percent = 0
	case percent > 100:
		percent = 100
	}
	p.report(ProgressUpdate{Percent: percent, Message: message, At: time.Now().UTC()})
}
