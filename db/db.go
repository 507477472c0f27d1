package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/migrate"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// SQLiteFileName is the database file created in the data directory when no
// DATABASE_URL is configured.
const SQLiteFileName = "chaptask.db"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// NewID returns a new canonical ULID. ulid.Make draws from a monotonic
// entropy source guarded by a mutex, so concurrent callers never collide.
func NewID() string {
	return ulid.Make().String()
}

// Now returns the current time as the database stores it: UTC with
// microsecond precision, so values read back compare equal to values written.
func Now() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

// minReadWriteTimeout is pgdriver's own read timeout: migrations (an index
// built on a large table) and the worker keep at least the margin they had.
const minReadWriteTimeout = 10 * time.Second

// Option configures Open.
type Option func(*openOptions)

type openOptions struct {
	callTimeout time.Duration
}

// WithReadWriteTimeout bounds connecting to PostgreSQL and each network read
// and write on its connections, commits included, for requests and the
// worker alike: d (DefaultCallTimeout when not given), but never less than
// minReadWriteTimeout. Requests are held to their own, tighter deadline by
// WithCallTimeout; this one is for what no context bounds.
func WithReadWriteTimeout(d time.Duration) Option {
	return func(o *openOptions) { o.callTimeout = d }
}

// Open connects to PostgreSQL when databaseURL is a postgres:// URL, and
// otherwise to a SQLite file in dataDir (created if missing).
func Open(ctx context.Context, databaseURL, dataDir string, opts ...Option) (*bun.DB, error) {
	o := openOptions{callTimeout: DefaultCallTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	var bdb *bun.DB
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		// Timeouts in the URL win over the read/write timeout.
		sqldb := sql.OpenDB(PostgresConnector(databaseURL, BusyWait,
			pgdriver.WithTimeout(max(o.callTimeout, minReadWriteTimeout))))
		// Eight cover the worker's writes and the API's reads on two
		// cores; more only hold backends (and their memory) on a server
		// that Temporal's stores and other services share.
		sqldb.SetMaxOpenConns(8)
		sqldb.SetMaxIdleConns(8)
		bdb = bun.NewDB(sqldb, pgdialect.New())
	case databaseURL == "":
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		sqldb, err := sql.Open("sqlite", sqliteDSN(filepath.Join(dataDir, SQLiteFileName)))
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		// WAL lets readers run beside the single writer; a small pool keeps
		// API reads from queueing behind the worker's writes.
		sqldb.SetMaxOpenConns(4)
		sqldb.SetMaxIdleConns(4)
		sqldb.SetConnMaxIdleTime(0)
		bdb = bun.NewDB(sqldb, sqlitedialect.New())
	default:
		return nil, fmt.Errorf("unsupported DATABASE_URL %q: want postgres://… or unset for SQLite", redactURL(databaseURL))
	}
	bdb.AddQueryHook(callDeadlineHook{})
	if err := bdb.PingContext(ctx); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return bdb, nil
}

func sqliteDSN(path string) string {
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"synchronous(NORMAL)",
		"busy_timeout(10000)",
		"foreign_keys(ON)",
	} {
		q.Add("_pragma", p)
	}
	// Writers take the lock at BEGIN, so two transactions never deadlock
	// upgrading a read lock.
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// redactURL hides a password in a connection URL for error messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// IsPostgres reports whether db talks to PostgreSQL.
func IsPostgres(db bun.IDB) bool {
	return db.Dialect().Name() == dialect.PG
}

// Migrate applies every pending migration. On PostgreSQL an advisory lock
// serialises concurrent starts of several processes; it is released with the
// session, so a crashed process never leaves the schema locked.
func Migrate(ctx context.Context, db *bun.DB) error {
	migrations := migrate.NewMigrations()
	if err := migrations.Discover(migrationFiles); err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	data := map[string]string{"JSONType": "TEXT", "TimeType": "TIMESTAMP", "Postgres": ""}
	if IsPostgres(db) {
		data = map[string]string{"JSONType": "JSONB", "TimeType": "TIMESTAMPTZ", "Postgres": "true"}
	}
	migrator := migrate.NewMigrator(db, migrations,
		migrate.WithTableName("chaptask_migrations"),
		migrate.WithLocksTableName("chaptask_migration_locks"),
		migrate.WithTemplateData(data),
		migrate.WithMarkAppliedOnSuccess(true),
	)

	if IsPostgres(db) {
		conn, err := db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("migration lock connection: %w", err)
		}
		defer conn.Close()
		const lockKey = 7_243_812_001 // arbitrary, constant for chaptask
		if err := advisoryLock(ctx, conn, lockKey); err != nil {
			return err
		}
		// Use a fresh context so an expired ctx still releases the lock.
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", lockKey) //nolint:errcheck // released with the session anyway
	}

	if err := migrator.Init(ctx); err != nil {
		return fmt.Errorf("init migrations: %w", err)
	}
	if _, err := migrator.Migrate(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// advisoryLock takes the PostgreSQL advisory lock key on conn. It polls
// rather than blocking in pg_advisory_lock: each read on a connection is
// bounded (WithReadWriteTimeout), and another process may hold the lock
// longer than that while it migrates.
func advisoryLock(ctx context.Context, conn bun.Conn, key int64) error {
	for {
		var taken bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock(?)", key).Scan(&taken); err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
		if taken {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("take migration lock: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// notFound turns sql.ErrNoRows into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}
