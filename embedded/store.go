package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/config"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/searchattribute/sadefs"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"google.golang.org/protobuf/types/known/durationpb"

	// The sqlite plugin registers this driver too; importing it here documents
	// that checkpoint opens its own connection through it.
	_ "modernc.org/sqlite"
)

// SQLite files inside Config.DataDir. Visibility has a file (and so a
// connection) of its own: on one shared connection a slow list query stalls
// every workflow, and visibility writes queue behind history writes.
const (
	dbFileName           = "temporal.db"
	visibilityDBFileName = "temporal-visibility.db"
)

// sqliteConfig returns the SQL store config for dataDir, and the database
// file path ("" for an in-memory database).
//
// The connect attributes are passed through by the server's sqlite plugin:
// "mode", "cache" and "setup" as URI query parameters, every other key as
// "_pragma=key=value", which the modernc.org/sqlite driver runs on each new
// connection. "setup=true" makes the plugin create the schema on the first
// connection to a new file and ignore the "table already exists" error on
// later ones; an in-memory database is always set up.
func sqliteConfig(dataDir, fileName string) (*config.SQL, string, error) {
	cfg := &config.SQL{
		PluginName: sqliteplugin.PluginName,
		// One connection: SQLite has a single writer anyway, and the team
		// measured more connections (and SQLite defaults) as 2-3x slower.
		MaxConns:     1,
		MaxIdleConns: 1,
	}
	if dataDir == "" {
		// The plugin keeps its connections open for the life of the process,
		// so the name must be unique for every server in the process.
		cfg.DatabaseName = fmt.Sprintf("embedded-%016x", rand.Uint64())
		cfg.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		return cfg, "", nil
	}

	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("create data dir: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(dataDir, fileName))
	if err != nil {
		return nil, "", fmt.Errorf("data dir path: %w", err)
	}
	// The plugin builds the DSN as "file:<path>?<attributes>" without escaping.
	if strings.ContainsAny(path, "?#") {
		return nil, "", fmt.Errorf("data dir %q: path must not contain '?' or '#'", dataDir)
	}
	cfg.DatabaseName = path
	cfg.ConnectAttributes = map[string]string{
		"mode":         "rwc",
		"setup":        "true",
		"journal_mode": "wal",
		"synchronous":  "normal",
		"busy_timeout": "10000",
	}
	if fileName == visibilityDBFileName {
		// A second connection lets list queries read (WAL readers never
		// wait) while the visibility queue writes.
		cfg.MaxConns, cfg.MaxIdleConns = 2, 2
	}
	return cfg, path, nil
}

// createNamespace registers namespace directly in the database before the
// server starts, so that every service loads it (and its search attributes)
// into its namespace cache at startup instead of discovering it on a later
// cache refresh. It does nothing if the namespace exists; search attributes
// of an existing namespace are reconciled through the operator API later.
func createNamespace(cfg *config.SQL, clusterName, namespace string, retention time.Duration, searchAttrs map[string]enums.IndexedValueType) error {
	nsCfg, err := sqliteschema.NewNamespaceConfig(clusterName, namespace, false, searchAttrs)
	if err != nil {
		return fmt.Errorf("namespace %s: %w", namespace, err)
	}
	nsCfg.Detail.Config.Retention = durationpb.New(retention)
	if err := sqliteschema.CreateNamespaces(cfg, nsCfg); err != nil {
		return fmt.Errorf("namespace %s: %w", namespace, err)
	}
	return nil
}

// validateSearchAttributes rejects what AddSearchAttributes would reject, so
// that nothing invalid is written directly to the database.
func validateSearchAttributes(attrs map[string]enums.IndexedValueType) error {
	var errs []error
	for name, typ := range attrs {
		if sadefs.IsReserved(name) {
			errs = append(errs, fmt.Errorf("search attribute %s: name is reserved", name))
		}
		if _, ok := enums.IndexedValueType_name[int32(typ)]; !ok || typ == enums.INDEXED_VALUE_TYPE_UNSPECIFIED {
			errs = append(errs, fmt.Errorf("search attribute %s: unknown type %d", name, typ))
		}
	}
	return errors.Join(errs...)
}

// checkpoint copies the write-ahead log into the database file and truncates
// the log, so that after Stop the .db file alone holds all data.
func checkpoint(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout%3D5000")
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return nil
}

// openDBs holds the database files of running servers. The sqlite plugin
// shares one connection per file within a process, and two servers on one
// file would fight over the history shard, so a second server is refused.
var openDBs = struct {
	sync.Mutex
	paths map[string]bool
}{paths: map[string]bool{}}

func claimDB(path string) error {
	openDBs.Lock()
	defer openDBs.Unlock()
	if openDBs.paths[path] {
		return fmt.Errorf("%s is used by another embedded server in this process", path)
	}
	openDBs.paths[path] = true
	return nil
}

func releaseDB(path string) {
	openDBs.Lock()
	defer openDBs.Unlock()
	delete(openDBs.paths, path)
}

// unusedVisibilityIndexes are indexes of the server's SQLite visibility
// schema that nothing chaptask or the Web UI's default views query. Each
// visibility write (two or three per job, REPLACE being a delete plus an
// insert) maintains every index, so these are dropped: queries on their
// columns still work, by scanning. Kept: the default order, workflow id,
// type, status, task queue, execution and schedule times, and the custom
// Keyword columns (chaptask's search attributes live there).
var unusedVisibilityIndexes = []string{
	"by_history_length", "by_history_size_bytes", "by_execution_duration", "by_state_transition_count",
	"by_parent_workflow_id", "by_parent_run_id", "by_root_workflow_id", "by_root_run_id",
	"by_batcher_user", "by_temporal_schedule_paused", "by_temporal_namespace_division", "by_temporal_pause_info",
	"by_temporal_worker_deployment_version", "by_temporal_workflow_versioning_behavior", "by_temporal_worker_deployment",
	"by_bool_01", "by_bool_02", "by_bool_03", "by_datetime_01", "by_datetime_02", "by_datetime_03",
	"by_double_01", "by_double_02", "by_double_03", "by_int_01", "by_int_02", "by_int_03",
	"by_temporal_bool_01", "by_temporal_bool_02", "by_temporal_datetime_01", "by_temporal_datetime_02",
	"by_temporal_double_01", "by_temporal_double_02", "by_temporal_int_01", "by_temporal_int_02",
	"by_temporal_keyword_01", "by_temporal_keyword_02", "by_temporal_keyword_03", "by_temporal_keyword_04",
	"by_temporal_low_cardinality_keyword_01",
}

// jobCountIndex lets the server count jobs from an index alone. Every
// visibility query gets "TemporalNamespaceDivision IS NULL" added by the
// server, a column no index of its schema pairs with the workflow type, so
// counting the jobs of a type (or of a type and status) read every row:
// 20 ms at 10,000 jobs, the largest part of a job-list page. The partial
// index holds only rows that pass that filter, so SQLite answers those
// counts from it (4 ms at 10,000 jobs).
const jobCountIndex = `CREATE INDEX IF NOT EXISTS chaptask_by_type_status
	ON executions_visibility (namespace_id, workflow_type_name, status)
	WHERE TemporalNamespaceDivision IS NULL`

// tuneVisibilityIndexes drops unusedVisibilityIndexes from the visibility
// file at path and adds jobCountIndex, once the server has created its
// schema there. It is idempotent: the server only creates its schema in a
// new file.
func tuneVisibilityIndexes(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout%3D10000")
	if err != nil {
		return fmt.Errorf("open visibility store: %w", err)
	}
	defer db.Close()
	for _, name := range unusedVisibilityIndexes {
		if _, err := db.ExecContext(ctx, "DROP INDEX IF EXISTS "+name); err != nil {
			return fmt.Errorf("drop visibility index %s: %w", name, err)
		}
	}
	if _, err := db.ExecContext(ctx, jobCountIndex); err != nil {
		return fmt.Errorf("create visibility index: %w", err)
	}
	return nil
}
