//go:build !linux

package activities

import "errors"

// reaper is Linux only (PR_SET_CHILD_SUBREAPER).
type reaper struct{}

func newReaper() (*reaper, error) { return nil, errors.New("child subreapers exist on Linux only") }

func (r *reaper) start(start func() error, _ func() int) error { return start() }

func (r *reaper) done(int) {}

func (r *reaper) reap(string, int) {}
