package db

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/chaptask/chaptask/domain"
)

// Classify gives a database failure its domain code: a full disk is
// domain.StorageFull, an unreachable or busy database domain.Unavailable
// (the caller may retry); err is returned as it is otherwise. It is the
// one place that reads the drivers' errors.
func Classify(err error) error {
	switch {
	case err == nil || domain.CodeOf(err) != "":
		return err
	case IsDiskFull(err):
		return &domain.Error{Code: domain.StorageFull, Message: "the database cannot write: its disk is full", Err: err}
	case IsUnavailable(err):
		return &domain.Error{Code: domain.Unavailable, Message: "database unavailable, try again later", Err: err}
	}
	return err
}

// IsUnavailable reports whether err means the database could not be
// reached or was too busy to answer: a retry may succeed.
func IsUnavailable(err error) bool {
	var netErr net.Error
	switch {
	case errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	msg := err.Error()
	// SQLite reports contention only as text; PostgreSQL sends 57P01
	// (admin shutdown) and 57P03 (cannot connect now) when restarting, and
	// 53300 when its connection slots are full. The driver writes codes as
	// "(SQLSTATE=…)"; matching the prefix keeps an id that happens to hold
	// the digits from counting.
	return strings.Contains(msg, "database is locked") ||
		strings.Contains(msg, "SQLITE_BUSY") ||
		strings.Contains(msg, "SQLSTATE=57P01") ||
		strings.Contains(msg, "SQLSTATE=57P03") ||
		strings.Contains(msg, "SQLSTATE=53300")
}

// IsDiskFull reports whether err comes from a full disk: SQLite's
// SQLITE_FULL, ENOSPC from the file system, PostgreSQL's 53100 disk_full.
// Temporal's errors carry the text of its store's error only, so this
// reads them too.
func IsDiskFull(err error) bool {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "database or disk is full") ||
		strings.Contains(msg, "SQLITE_FULL") ||
		strings.Contains(msg, "no space left on device") ||
		strings.Contains(msg, "disk quota exceeded") ||
		strings.Contains(msg, "SQLSTATE=53100")
}

// IsTimeout reports whether err is a deadline that passed, the call's own
// or the connection's.
func IsTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())
}
