// Package embedded runs a Temporal server inside the chaptask process: the
// default run mode needs no separate Temporal installation, and tests get a
// real server in a second or two.
//
// One process runs the frontend, history, matching and worker services with
// a single history shard. Workflow state and visibility live in SQLite
// (DataDir/temporal.db, or in memory for tests) through the server's own
// sqlite plugin; the optional Temporal Web UI is served from the same
// process. The frontend is a normal gRPC frontend, so the Go SDK, tctl and
// the temporal CLI can talk to it.
//
// This is the only chaptask package that imports go.temporal.io/server;
// everything else talks to Temporal through the SDK and FrontendAddr. The
// chaptask library does not import it: a program opts in through
// embedded/inprocess, so one that runs against a cluster stays small.
//
// Known limits, all from the server's sqlite plugin: it never closes its
// pooled connection, so the database file stays open until the process exits
// (a later Start on the same DataDir reuses that connection), and every
// in-memory server keeps its memory until the process exits.
package embedded
