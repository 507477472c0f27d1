package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"
)

// autovacuumNaptime is how often the stand-in looks at the tables, as
// PostgreSQL's autovacuum_naptime does by default.
const autovacuumNaptime = time.Minute

// autovacuumDue lists the VACUUM or ANALYZE statements autovacuum's rule
// calls for in the current database: dead rows above threshold + scale
// factor × live rows (the table's own settings first, then the server's),
// or rows changed since the last ANALYZE above the analyze threshold; not
// for tables with autovacuum_enabled off.
const autovacuumDue = `
SELECT CASE WHEN dead THEN 'VACUUM (ANALYZE) ' ELSE 'ANALYZE ' END || format('%I.%I', schemaname, relname)
FROM (
	SELECT s.schemaname, s.relname,
		s.n_dead_tup > coalesce(o.threshold, current_setting('autovacuum_vacuum_threshold'))::float8
			+ coalesce(o.scale_factor, current_setting('autovacuum_vacuum_scale_factor'))::float8 * s.n_live_tup AS dead,
		s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float8
			+ current_setting('autovacuum_analyze_scale_factor')::float8 * s.n_live_tup AS stale,
		coalesce(o.enabled, 'true')::bool AS enabled
	FROM pg_stat_user_tables s
	JOIN pg_class c ON c.oid = s.relid
	CROSS JOIN LATERAL (
		SELECT max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_threshold') AS threshold,
			max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_scale_factor') AS scale_factor,
			max(option_value) FILTER (WHERE option_name = 'autovacuum_enabled') AS enabled
		FROM pg_options_to_table(c.reloptions)
	) o
) t
WHERE enabled AND (dead OR stale)`

// vacuumStandIn applies autovacuum's rule to the bench's databases when the
// PostgreSQL server runs with autovacuum off (the shared development server
// does). Without it the dead rows of Temporal's queue and visibility tables
// pile up for the whole run, and every reader of those tables slows down in
// a way no deployment with autovacuum on would see.
type vacuumStandIn struct {
	stop     func()
	done     sync.WaitGroup
	vacuums  atomic.Int64
	analyzes atomic.Int64
	mu       sync.Mutex
	err      error // the first error, if any
}

// startVacuumStandIn starts the stand-in if the server's autovacuum is
// off, and returns nil if it is on.
func startVacuumStandIn(ctx context.Context, adminURL string, base *url.URL, databases []string) (*vacuumStandIn, error) {
	on, err := autovacuumOn(ctx, adminURL)
	if err != nil || on {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	v := &vacuumStandIn{stop: cancel}
	v.done.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(autovacuumNaptime):
			}
			for _, name := range databases {
				if err := v.pass(ctx, withDatabase(base, name)); err != nil && ctx.Err() == nil {
					v.mu.Lock()
					if v.err == nil {
						v.err = fmt.Errorf("vacuum %s: %w", name, err)
					}
					v.mu.Unlock()
				}
			}
		}
	})
	return v, nil
}

func autovacuumOn(ctx context.Context, adminURL string) (bool, error) {
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(adminURL)))
	defer admin.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var setting string
	if err := admin.QueryRowContext(ctx, "SHOW autovacuum").Scan(&setting); err != nil {
		return false, fmt.Errorf("read the autovacuum setting: %w", err)
	}
	return setting == "on", nil
}

// pass runs the statements autovacuumDue lists in the database of dsn.
func (v *vacuumStandIn) pass(ctx context.Context, dsn string) error {
	db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn)))
	defer db.Close()
	rows, err := db.QueryContext(ctx, autovacuumDue)
	if err != nil {
		return err
	}
	var stmts []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return err
		}
		stmts = append(stmts, s)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		if s[0] == 'V' {
			v.vacuums.Add(1)
		} else {
			v.analyzes.Add(1)
		}
	}
	return nil
}

// close stops the stand-in.
func (v *vacuumStandIn) close() {
	v.stop()
	v.done.Wait()
}

// note says what the stand-in did so far.
func (v *vacuumStandIn) note() string {
	note := fmt.Sprintf("PostgreSQL's autovacuum is off on this server: the bench applied its rule to its databases every %s instead (%d VACUUM, %d ANALYZE)",
		autovacuumNaptime, v.vacuums.Load(), v.analyzes.Load())
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err != nil {
		note += fmt.Sprintf("; first error: %v", v.err)
	}
	return note
}
