// Package dbtest gives tests a migrated, isolated database on every dialect
// chaptask supports: a fresh SQLite file, and a fresh PostgreSQL schema when
// CHAPTASK_TEST_DATABASE_URL names a server.
package dbtest

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/chaptask/chaptask/db"
)

// PostgresURLEnv names the variable holding the PostgreSQL server tests use.
const PostgresURLEnv = "CHAPTASK_TEST_DATABASE_URL"

// busyWait is how long a test's connection waits for a full PostgreSQL
// server to free a slot: the server is shared with whatever else runs on
// the machine, and a test can afford to wait where a request cannot.
const busyWait = 2 * time.Minute

// Dialects are the names Each runs subtests under.
var Dialects = []string{"sqlite", "postgres"}

// Each runs fn once per dialect as a subtest, each with its own migrated
// database. The PostgreSQL subtest is skipped, with the reason, when
// CHAPTASK_TEST_DATABASE_URL is unset.
func Each(t *testing.T, fn func(t *testing.T, bdb *bun.DB)) {
	t.Helper()
	for _, name := range Dialects {
		t.Run(name, func(t *testing.T) {
			fn(t, Open(t, name))
		})
	}
}

// Open returns a migrated database of the named dialect that is removed when
// the test ends.
func Open(t testing.TB, dialect string) *bun.DB {
	t.Helper()
	ctx := context.Background()
	var bdb *bun.DB
	switch dialect {
	case "sqlite":
		var err error
		bdb, err = db.Open(ctx, "", t.TempDir())
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
	case "postgres":
		bdb = openPostgresSchema(t)
	default:
		t.Fatalf("unknown dialect %q", dialect)
	}
	t.Cleanup(func() { bdb.Close() })
	if err := db.Migrate(ctx, bdb); err != nil {
		t.Fatalf("migrate %s: %v", dialect, err)
	}
	return bdb
}

// PostgresURL returns a URL whose connections use a fresh schema dropped when
// the test ends, for tests that start the service themselves. It skips the
// test when CHAPTASK_TEST_DATABASE_URL is unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		t.Skipf("%s not set: PostgreSQL cases need a server", PostgresURLEnv)
	}
	schema := "test_" + strings.ToLower(ulid.Make().String())
	admin := sql.OpenDB(db.PostgresConnector(base, busyWait))
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		admin := sql.OpenDB(db.PostgresConnector(base, busyWait))
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func openPostgresSchema(t testing.TB) *bun.DB {
	t.Helper()
	url := PostgresURL(t)
	sqldb := sql.OpenDB(db.PostgresConnector(url, busyWait))
	// Tests share the server with everything else on the machine: a few
	// connections per database is plenty, and leaves room for the others.
	sqldb.SetMaxOpenConns(4)
	sqldb.SetMaxIdleConns(4)
	bdb := bun.NewDB(sqldb, pgdialect.New())
	if err := bdb.Ping(); err != nil {
		t.Fatalf("connect to %s: %v", PostgresURLEnv, err)
	}
	return bdb
}
