package api

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// dbError classifies a database failure: an unreachable or busy database is
// a 503 the client may retry; anything else stays an internal error.
func dbError(err error) error {
	if isUnavailable(err) {
		return unavailable("database unavailable, try again later")
	}
	return err
}

func isUnavailable(err error) bool {
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
