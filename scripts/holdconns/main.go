// Command holdconns opens connections to a PostgreSQL server and holds them,
// idle, until it is stopped: it plays the other programs that share a
// server with chaptask, to run the test suite against a server that is
// nearly full.
//
//	CHAPTASK_TEST_DATABASE_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' \
//	  go run ./scripts/holdconns -n 90
//
// It prints one line once all n are open and keeps them until SIGINT or
// SIGTERM. By default it connects as the ordinary role chaptask_holder
// (created, NOSUPERUSER, when missing, and dropped again on exit if this run
// created it): an application does not connect as a superuser, and an
// ordinary role cannot take the superuser_reserved_connections slots, so
// the holder fails instead of locking an administrator out when the server
// is busier than expected. -role "" connects as the URL's own user.
package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/chaptask/chaptask/db"
)

// appName marks the holder's sessions in pg_stat_activity.
const appName = "chaptask-holdconns"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "holdconns:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	n := fs.Int("n", 90, "connections to open and hold")
	dsn := fs.String("url", getenv("CHAPTASK_TEST_DATABASE_URL"), "postgres:// URL of the server; its user creates the role (CHAPTASK_TEST_DATABASE_URL)")
	role := fs.String("role", "chaptask_holder", `role to connect as, created NOSUPERUSER LOGIN when missing; "" for the URL's user`)
	wait := fs.Duration("wait", 10*time.Second, "how long each connection waits for a slot while the server is full")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dsn == "" {
		return errors.New("no server: set -url or CHAPTASK_TEST_DATABASE_URL")
	}
	if *n < 1 {
		return fmt.Errorf("-n %d: want at least 1", *n)
	}
	h, err := hold(ctx, *dsn, *role, *n, *wait)
	if err != nil {
		return err
	}
	defer h.release()
	fmt.Fprintf(stdout, "holding %d connections as %s; %s; stop with SIGINT or SIGTERM\n", *n, h.role, h.census)
	<-ctx.Done()
	return nil
}

// holder is a set of open connections.
type holder struct {
	role    string
	census  string // what the server said once all were open
	conns   []driver.Conn
	dropped func() // drops the role if hold created it
}

// hold opens n connections to the server dsn names, as role (created if
// missing) or as the URL's user when role is "". A connection the server
// refuses because it is full is tried again for up to wait: the server is
// shared, and sessions come and go.
func hold(ctx context.Context, dsn, role string, n int, wait time.Duration) (*holder, error) {
	admin := sql.OpenDB(db.PostgresConnector(dsn, wait, pgdriver.WithApplicationName(appName+"-admin")))
	defer admin.Close()
	admin.SetMaxOpenConns(1)
	h := &holder{role: role, dropped: func() {}}
	if role == "" {
		if err := admin.QueryRowContext(ctx, "SELECT current_user").Scan(&h.role); err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
	} else {
		created, err := ensureRole(ctx, admin, role)
		if err != nil {
			return nil, err
		}
		if created {
			h.dropped = func() { dropRole(dsn, role) }
		}
	}
	roleDSN, err := withUser(dsn, h.role)
	if err != nil {
		return nil, err
	}
	connector := db.PostgresConnector(roleDSN, wait, pgdriver.WithApplicationName(appName))
	for range n {
		conn, err := connector.Connect(ctx)
		if err != nil {
			open := len(h.conns)
			h.release()
			return nil, fmt.Errorf("open connection %d of %d as %s: %w", open+1, n, h.role, err)
		}
		h.conns = append(h.conns, conn)
	}
	census, err := serverCensus(ctx, admin)
	if err != nil {
		h.release()
		return nil, err
	}
	h.census = census
	return h, nil
}

// release closes every connection and drops a role hold created.
func (h *holder) release() {
	for _, c := range h.conns {
		c.Close()
	}
	h.conns = nil
	h.dropped()
	h.dropped = func() {}
}

// ensureRole creates role as an ordinary login role unless it exists, and
// reports whether it created it. A role that exists must not be a
// superuser: it would take the slots reserved for administrators.
func ensureRole(ctx context.Context, admin *sql.DB, role string) (bool, error) {
	var super sql.NullBool
	err := admin.QueryRowContext(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = $1", role).Scan(&super)
	switch {
	case err == nil && super.Bool:
		return false, fmt.Errorf("role %s is a superuser; pick an ordinary role", role)
	case err == nil:
		return false, nil
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("look up role %s: %w", role, err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE ROLE "+quoteIdent(role)+" LOGIN NOSUPERUSER"); err != nil {
		return false, fmt.Errorf("create role %s (the URL's user must be allowed to; or -role \"\"): %w", role, err)
	}
	return true, nil
}

// dropRole drops role on a fresh connection: the holder's own are closed
// by then, and the caller's context may be canceled already.
func dropRole(dsn, role string) {
	admin := sql.OpenDB(db.PostgresConnector(dsn, db.BusyWait, pgdriver.WithApplicationName(appName+"-admin")))
	defer admin.Close()
	if _, err := admin.Exec("DROP ROLE IF EXISTS " + quoteIdent(role)); err != nil {
		fmt.Fprintf(os.Stderr, "holdconns: drop role %s: %v\n", role, err)
	}
}

// serverCensus describes the server's connection slots and who uses them.
func serverCensus(ctx context.Context, admin *sql.DB) (string, error) {
	var maxConns, reserved, total, mine int
	err := admin.QueryRowContext(ctx, `SELECT
		current_setting('max_connections')::int,
		current_setting('superuser_reserved_connections')::int,
		count(*) FILTER (WHERE backend_type = 'client backend'),
		count(*) FILTER (WHERE backend_type = 'client backend' AND application_name = $1)
		FROM pg_stat_activity`, appName).Scan(&maxConns, &reserved, &total, &mine)
	if err != nil {
		return "", fmt.Errorf("count connections: %w", err)
	}
	return fmt.Sprintf("server: %d client connections of max_connections %d (%d reserved for superusers): %d held here, %d others (this census included)",
		total, maxConns, reserved, mine, total-mine), nil
}

// withUser returns dsn with its user replaced by user, password dropped
// (the role has none).
func withUser(dsn, user string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("parse URL: %w", err)
	}
	u.User = url.User(user)
	return u.String(), nil
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string {
	out := []byte{'"'}
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			out = append(out, '"')
		}
		out = append(out, s[i])
	}
	return string(append(out, '"'))
}
