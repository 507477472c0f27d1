package api

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/domain"
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

// TestErrorTable checks every domain code has its answer, and that an
// Invalid error without a field still answers FastAPI's shape.
func TestErrorTable(t *testing.T) {
	tests := []struct {
		err    error
		status int
		typ    string
	}{
		{domain.Errorf(domain.NotFound, "Task x not found"), http.StatusNotFound, typeNotFound},
		{domain.Errorf(domain.Refused, "Cannot execute disabled task x"), http.StatusBadRequest, typeBadRequest},
		{domain.Errorf(domain.Invalid, "bad"), http.StatusUnprocessableEntity, typeValidationFailed},
		{domain.Errorf(domain.Conflict, "no snapshot"), http.StatusConflict, typeConflict},
		{domain.Errorf(domain.ReadOnly, "read-only"), http.StatusMethodNotAllowed, typeMethodNotAllowed},
		{domain.Errorf(domain.Unavailable, "down"), http.StatusServiceUnavailable, typeServiceUnavailable},
		{domain.Errorf(domain.StorageFull, "full"), http.StatusInsufficientStorage, typeInsufficientStorage},
		{fmt.Errorf("wrapped: %w", domain.Errorf(domain.NotFound, "Job x not found")), http.StatusNotFound, typeNotFound},
	}
	for _, tt := range tests {
		p := problemFor(tt.err)
		if p == nil || p.Status != tt.status || p.Type != tt.typ {
			t.Errorf("problemFor(%v) = %+v, want %d %s", tt.err, p, tt.status, tt.typ)
			continue
		}
		if tt.status == http.StatusUnprocessableEntity && (len(p.Errors) != 1 || len(p.Errors[0].Loc) == 0) {
			t.Errorf("problemFor(%v) errors = %+v, want one located field", tt.err, p.Errors)
		}
	}
	if p := problemFor(about(db.ErrNotFound, "Artifact %s not found", "01X")); p == nil || p.Detail != "Artifact 01X not found" {
		t.Errorf("about(db.ErrNotFound) = %+v, want a 404 naming the artifact", p)
	}
}
