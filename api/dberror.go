package api

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// typeInsufficientStorage marks a write refused because a disk is full.
const typeInsufficientStorage = "urn:chapkit:error:insufficient-storage"

// dbError classifies a database failure: an unreachable or busy database is
// a 503 the client may retry; anything else stays an internal error.
func dbError(err error) error {
	if isDiskFull(err) {
		return storageFull("the database cannot write: its disk is full")
	}
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

// isDiskFull reports whether err comes from a full disk: SQLite's
// SQLITE_FULL, ENOSPC from the file system, PostgreSQL's 53100 disk_full.
// Temporal's errors carry the text of its store's error only.
func isDiskFull(err error) bool {
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

// storageFull is the answer to a write refused for want of disk space: 507,
// so a client (and an operator reading logs) tells it from an outage.
func storageFull(what string) *problem {
	p := newProblem(http.StatusInsufficientStorage, typeInsufficientStorage,
		what+"; free space on the data volume and try again")
	return p
}
