package db

import (
	"context"
	"database/sql/driver"
	"errors"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"
)

// BusyWait is how long the service's new PostgreSQL connections wait for a
// full server (max_connections reached) to free a slot.
const BusyWait = 10 * time.Second

// PostgresConnector connects to the PostgreSQL server dsn names, waiting up
// to wait, with backoff, while the server refuses connections because it is
// full or still starting. A server shared with other programs runs full for
// moments at a time; a request then waits instead of failing.
func PostgresConnector(dsn string, wait time.Duration, opts ...pgdriver.Option) driver.Connector {
	// The DSN comes last so that its settings win over opts.
	opts = append(opts[:len(opts):len(opts)], pgdriver.WithDSN(dsn))
	return busyConnector{Connector: pgdriver.NewConnector(opts...), wait: wait}
}

type busyConnector struct {
	driver.Connector
	wait time.Duration
}

func (c busyConnector) Connect(ctx context.Context) (driver.Conn, error) {
	deadline := time.Now().Add(c.wait)
	delay := 20 * time.Millisecond
	for {
		conn, err := c.Connector.Connect(ctx)
		if err == nil || !serverBusy(err) || time.Now().Add(delay).After(deadline) {
			return conn, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

// serverBusy reports PostgreSQL's too_many_connections (53300) and
// cannot_connect_now (57P03): refusals that pass.
func serverBusy(err error) bool {
	var pgErr pgdriver.Error
	if !errors.As(err, &pgErr) {
		return false
	}
	code := pgErr.Field('C')
	return code == "53300" || code == "57P03"
}
