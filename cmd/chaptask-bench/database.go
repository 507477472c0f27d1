package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/chaptask/chaptask/db"
)

// createSchema creates a throwaway schema on the PostgreSQL server of
// baseURL and returns a URL whose connections use it, and a func that drops
// it.
func createSchema(ctx context.Context, baseURL string) (string, func() error, error) {
	schema := "bench_" + strings.ToLower(db.NewID())
	exec := func(ctx context.Context, stmt string) error {
		admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(baseURL)))
		defer admin.Close()
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := admin.ExecContext(ctx, stmt)
		return err
	}
	if err := exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	drop := func() error {
		// The bench may be ending because ctx was canceled.
		if err := exec(context.WithoutCancel(ctx), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			return fmt.Errorf("drop schema %s: %w", schema, err)
		}
		return nil
	}
	sep := "?"
	if strings.Contains(baseURL, "?") {
		sep = "&"
	}
	return baseURL + sep + "search_path=" + schema, drop, nil
}
