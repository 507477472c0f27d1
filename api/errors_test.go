package api

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"

	"github.com/chaptask/chaptask/jobs"
)

// TestDiskFullErrors checks that the ways a full disk is reported become
// 507 problems, from the database and from Temporal alike, and that other
// failures keep their meaning.
func TestDiskFullErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"sqlite full", errors.New("insert task: database or disk is full (13)"), http.StatusInsufficientStorage},
		{"ENOSPC", fmt.Errorf("write wal: %w", &os.PathError{Op: "write", Path: "/data/chaptask.db-wal", Err: syscall.ENOSPC}), http.StatusInsufficientStorage},
		{"postgres disk_full", errors.New("ERROR: could not extend file: No space left on device (SQLSTATE=53100)"), http.StatusInsufficientStorage},
		{"temporal store full", fmt.Errorf("start job: %w: %v", jobs.ErrUnavailable, errors.New("CreateWorkflowExecution: database or disk is full")), http.StatusInsufficientStorage},
		{"temporal down", fmt.Errorf("start job: %w: %v", jobs.ErrUnavailable, errors.New("connection refused")), http.StatusServiceUnavailable},
		{"database down", fmt.Errorf("get task: %w", syscall.ECONNREFUSED), http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p *problem
			if p = problemFor(tt.err); p == nil || p.Status != tt.want {
				t.Errorf("problemFor(%v) = %v, want a %d problem", tt.err, p, tt.want)
			}
			if tt.want == http.StatusInsufficientStorage && p.Type != typeInsufficientStorage {
				t.Errorf("type %s, want %s", p.Type, typeInsufficientStorage)
			}
		})
	}
}

// TestJobsErrorDatabaseDown checks a job read that fails in the database (a
// finished job's artifact lookup) answers 503, not 500.
func TestJobsErrorDatabaseDown(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	p := problemFor(fmt.Errorf("read job artifacts: find job artifacts: %w", refused))
	if p == nil || p.Status != http.StatusServiceUnavailable || p.Type != typeServiceUnavailable {
		t.Fatalf("problemFor = %#v, want a 503 service-unavailable problem", p)
	}
	if p := problemFor(errors.New("unexpected")); p != nil {
		t.Errorf("an unclassified error became problem %#v, want it left for the 500 path", p)
	}
}
