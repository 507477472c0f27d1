package db

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

// TestUnavailableErrors checks the errors the PostgreSQL and SQLite drivers
// return when the database is unreachable or busy become 503s, and that other
// failures stay internal errors. The shapes are the ones seen when the
// connection to PostgreSQL is refused or cut (see the reliability package).
func TestUnavailableErrors(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}
	tests := []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"connection refused", fmt.Errorf("list tasks: %w", refused), true},
		{"connection reset", fmt.Errorf("get task: %w", reset), true},
		{"connection closed mid-reply", fmt.Errorf("get task: %w", io.EOF), true},
		{"short read", fmt.Errorf("get task: %w", io.ErrUnexpectedEOF), true},
		{"bad connection", fmt.Errorf("get task: %w", driver.ErrBadConn), true},
		{"server shutting down", errors.New("FATAL: terminating connection due to administrator command (SQLSTATE=57P01)"), true},
		{"server starting", errors.New("FATAL: the database system is starting up (SQLSTATE=57P03)"), true},
		{"too many connections", errors.New("FATAL: sorry, too many clients already (SQLSTATE=53300)"), true},
		{"sqlite busy", errors.New("database is locked (5) (SQLITE_BUSY)"), true},
		{"syntax error", errors.New("ERROR: syntax error at or near \"SELEC\" (SQLSTATE=42601)"), false},
		{"code-like digits in an id", errors.New("ERROR: task 01J57P01ABC not found (SQLSTATE=P0001)"), false},
		{"constraint", errors.New("ERROR: duplicate key value violates unique constraint (SQLSTATE=23505)"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsUnavailable(tt.err); got != tt.unavailable {
				t.Errorf("IsUnavailable(%v) = %v, want %v", tt.err, got, tt.unavailable)
			}
		})
	}
}
