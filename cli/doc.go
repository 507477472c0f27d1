// Package cli is chaptask's command-line client: it drives a chaptask
// service through its HTTP API only, so the binary built from it links
// neither Temporal nor a database driver.
//
//	chaptask-cli tasks create --command 'echo hi; exit 3'
//	chaptask-cli tasks run 01J… --wait   # prints hi, exits 3
//
// Every command prints human-readable text, or with --json the API's JSON
// documents for scripts. Errors go to stderr as "error: <title>: <detail>"
// with an exit code that says what kind of failure it was (see ExitOK and
// the constants after it).
package cli
