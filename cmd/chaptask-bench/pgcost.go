package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"
)

// pgBackends measures what the PostgreSQL server spends on the bench's
// databases: the CPU of the backends connected to them (utime+stime from
// /proc, so only for a server on this machine) and their commits and
// rollbacks (pg_stat_database). Background processes (WAL writer,
// checkpointer, autovacuum launcher) serve every database and are left out.
type pgBackends struct {
	adminURL  string
	databases []string
}

// pgSnapshot is the state of the bench's backends at one moment.
type pgSnapshot struct {
	CPU     map[int]time.Duration // by backend pid
	Commits int64
	Rollbk  int64
	// Unreadable counts backends whose /proc entry could not be read (a
	// remote server, or a backend that just exited).
	Unreadable int
}

// pgCost is what the bench's databases cost between two snapshots.
type pgCost struct {
	CPU       time.Duration
	Commits   int64
	Rollbacks int64
	// Gone counts backends that exited in between: their CPU since the
	// first snapshot is missing from CPU.
	Gone       int
	Unreadable int
}

func (p *pgBackends) snapshot(ctx context.Context) (pgSnapshot, error) {
	snap := pgSnapshot{CPU: map[int]time.Duration{}}
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(p.adminURL)))
	defer admin.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list := "'" + strings.Join(p.databases, "','") + "'" // names the bench made: [a-z0-9_]
	rows, err := admin.QueryContext(ctx, "SELECT pid FROM pg_stat_activity WHERE datname IN ("+list+") AND pid <> pg_backend_pid()")
	if err != nil {
		return snap, fmt.Errorf("list PostgreSQL backends: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return snap, err
		}
		c, err := readCPU(pid)
		if err != nil {
			snap.Unreadable++
			continue
		}
		snap.CPU[pid] = c.Self
	}
	if err := rows.Err(); err != nil {
		return snap, err
	}
	err = admin.QueryRowContext(ctx, "SELECT coalesce(sum(xact_commit), 0)::bigint, coalesce(sum(xact_rollback), 0)::bigint FROM pg_stat_database WHERE datname IN ("+list+")").
		Scan(&snap.Commits, &snap.Rollbk)
	if err != nil {
		return snap, fmt.Errorf("read pg_stat_database: %w", err)
	}
	return snap, nil
}

// since is the cost from before to s. A backend new since before counts
// whole: it started within the interval.
func (s pgSnapshot) since(before pgSnapshot) pgCost {
	c := pgCost{Commits: s.Commits - before.Commits, Rollbacks: s.Rollbk - before.Rollbk, Unreadable: s.Unreadable}
	for pid, cpu := range s.CPU {
		c.CPU += cpu - before.CPU[pid]
	}
	for pid := range before.CPU {
		if _, ok := s.CPU[pid]; !ok {
			c.Gone++
		}
	}
	return c
}

// temporalMetrics reads counters from the Temporal server's Prometheus
// endpoint: persistence requests by operation, the basis of the statement
// counts (each persistence request is one transaction or query on the
// store, a few for the larger writes).
func temporalMetrics(ctx context.Context, metricsURL string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read Temporal metrics: %w", err)
	}
	defer resp.Body.Close()
	return parsePersistenceRequests(resp.Body)
}

// parsePersistenceRequests sums the persistence_requests counter (the
// main store) and the visibility_persistence_requests counter (prefixed
// "visibility:") by operation label.
func parsePersistenceRequests(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		prefix := ""
		rest, ok := strings.CutPrefix(line, "persistence_requests{")
		if !ok {
			if rest, ok = strings.CutPrefix(line, "visibility_persistence_requests{"); !ok {
				continue
			}
			prefix = "visibility:"
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		op := "?"
		for _, l := range strings.Split(labels, ",") {
			if k, val, ok := strings.Cut(l, "="); ok && k == "operation" {
				op = strings.Trim(val, `"`)
			}
		}
		out[prefix+op] += v
	}
	return out, sc.Err()
}

// topOperations formats the per-job counts of the busiest operations.
func topOperations(before, after map[string]float64, jobs, n int) (total float64, line string) {
	type opCount struct {
		op string
		v  float64
	}
	var ops []opCount
	for op, v := range after {
		if d := v - before[op]; d > 0 {
			ops = append(ops, opCount{op, d})
			total += d
		}
	}
	slices.SortFunc(ops, func(a, b opCount) int {
		if a.v != b.v {
			if a.v > b.v {
				return -1
			}
			return 1
		}
		return strings.Compare(a.op, b.op)
	})
	var parts []string
	for i, o := range ops {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.1f", o.op, o.v/float64(max(jobs, 1))))
	}
	return total / float64(max(jobs, 1)), strings.Join(parts, ", ")
}
