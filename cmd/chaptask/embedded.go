package main

import (
	"context"
	"runtime/debug"

	"github.com/chaptask/chaptask"
	"github.com/chaptask/chaptask/embedded/inprocess"
)

// embeddedGCPercent is the GC target of a process that embeds the Temporal
// server, unless GOGC says otherwise.
const embeddedGCPercent = 200

// startEmbedded starts the in-process Temporal server, and first tunes the
// garbage collector for it: the GC target is the whole process's, so the
// command sets it, not the library.
func startEmbedded(getenv func(string) string) chaptask.StartEmbeddedFunc {
	return func(ctx context.Context, cfg chaptask.EmbeddedConfig) (chaptask.EmbeddedServer, error) {
		if getenv("GOGC") == "" {
			// The embedded server allocates fast and keeps little (a live
			// heap of ~40-60 MB), so the default GOGC=100 collects several
			// times a second, a dedicated mark worker taking one of two
			// cores each time. 200 halves the collections for more memory:
			// in the benchmark 42.5 -> 50.8 jobs/s, list page p99 25 -> 17
			// ms, peak RSS 879 -> 1165 MiB.
			debug.SetGCPercent(embeddedGCPercent)
		}
		return inprocess.Start(ctx, cfg)
	}
}
