package api

import (
	"errors"
	"fmt"
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
			if !errors.As(jobsError(tt.err, ""), &p) || p.Status != tt.want {
				t.Errorf("jobsError(%v) = %v, want a %d problem", tt.err, jobsError(tt.err, ""), tt.want)
			}
			if tt.want == http.StatusInsufficientStorage && p.Type != typeInsufficientStorage {
				t.Errorf("type %s, want %s", p.Type, typeInsufficientStorage)
			}
		})
	}
}
