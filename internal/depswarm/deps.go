// Package depswarm pins dependencies while the real packages are written; delete once they import them.
package depswarm

import (
	_ "github.com/gorilla/mux"
	_ "github.com/oklog/ulid/v2"
	_ "github.com/temporalio/ui-server/v2/server"
	_ "github.com/uptrace/bun/dialect/pgdialect"
	_ "github.com/uptrace/bun/dialect/sqlitedialect"
	_ "github.com/uptrace/bun/driver/pgdriver"
	_ "github.com/uptrace/bun/migrate"
	_ "go.temporal.io/sdk/client"
	_ "go.temporal.io/sdk/worker"
	_ "go.temporal.io/sdk/testsuite"
	_ "go.temporal.io/server/temporal"
	_ "go.temporal.io/server/temporaltest"
	_ "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	_ "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	_ "modernc.org/sqlite"
)
