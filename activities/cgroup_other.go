//go:build !linux

package activities

import (
	"errors"
	"syscall"
)

// jobCgroups is Linux only: elsewhere a job's processes are ended through
// its process group alone.
type jobCgroups struct{ dir string }

type jobCgroup struct{}

func newJobCgroups() (*jobCgroups, error) {
	return nil, errors.New("cgroups exist on Linux only")
}

func (g *jobCgroups) create(string) (*jobCgroup, error) { return nil, nil }

func (c *jobCgroup) place(*syscall.SysProcAttr) {}

func (c *jobCgroup) kill() error { return nil }
