// Package db holds chaptask's tables and every SQL statement: the bun
// models (tasks, artifacts, job outputs and logs), the migrations (embedded,
// applied by an explicit Migrate), and one function per query. Query
// functions take bun.IDB, so the same code runs on the database or in a
// transaction, on PostgreSQL and on SQLite alike (db/dbtest runs tests on
// both).
//
// Errors: a missing row is ErrNotFound (a domain.NotFound error), and
// Classify is the one place that reads the drivers' errors to tell an
// unavailable or full database (domain.Unavailable, domain.StorageFull)
// from a bug. No rule of the domain lives here: callers (package tasks,
// jobs, activities) decide what may be stored; db stores it.
//
// To add a query, write it here with a bun.IDB first argument and test it
// through dbtest on both dialects; a schema change is a new pair of files
// in migrations/.
package db
