package embedded

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// filterHandler drops records below a minimum level, and every record once
// muted is set, before they reach the wrapped handler. The server logs a lot
// at info level; the level keeps it quiet without asking the caller to build
// a filtered logger.
type filterHandler struct {
	min   slog.Leveler
	muted *atomic.Bool
	inner slog.Handler
}

func (h filterHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return !h.muted.Load() && level >= h.min.Level() && h.inner.Enabled(ctx, level)
}

func (h filterHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.muted.Load() {
		return nil
	}
	return h.inner.Handle(ctx, r)
}

func (h filterHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return filterHandler{min: h.min, muted: h.muted, inner: h.inner.WithAttrs(attrs)}
}

func (h filterHandler) WithGroup(name string) slog.Handler {
	return filterHandler{min: h.min, muted: h.muted, inner: h.inner.WithGroup(name)}
}

// serverLogger adapts an *slog.Logger to the Temporal server's log.Logger.
//
// DPanic, Panic and Fatal are logged at error level and return: the server
// calls Fatal from background goroutines, and a library must not exit or
// crash the process that embeds it.
type serverLogger struct {
	sl *slog.Logger
	// with are the tags added by With. The server derives a tagged logger
	// for every task it processes and almost never logs with it, so the
	// tags are only turned into attributes when a record is written.
	with []tag.Tag
}

var (
	_ log.Logger      = serverLogger{}
	_ log.WithLogger  = serverLogger{}
	_ log.SLogWrapper = serverLogger{}
)

func (l serverLogger) Debug(msg string, tags ...tag.Tag) { l.log(slog.LevelDebug, msg, tags) }
func (l serverLogger) Info(msg string, tags ...tag.Tag)  { l.log(slog.LevelInfo, msg, tags) }
func (l serverLogger) Warn(msg string, tags ...tag.Tag)  { l.log(slog.LevelWarn, msg, tags) }
func (l serverLogger) Error(msg string, tags ...tag.Tag) {
	if msg == refusedCallMsg {
		// A caller without a valid key is the client's fault, and anyone
		// who can reach the port could fill the error log with them.
		l.log(slog.LevelWarn, msg, tags)
		return
	}
	l.log(slog.LevelError, msg, tags)
}

// refusedCallMsg is what the server's authorization interceptor logs, at
// error level, for every call it refuses (a missing or wrong API key).
const refusedCallMsg = "Authorization error"

func (l serverLogger) DPanic(msg string, tags ...tag.Tag) {
	l.log(slog.LevelError, msg, tags)
}
func (l serverLogger) Panic(msg string, tags ...tag.Tag) { l.log(slog.LevelError, msg, tags) }
func (l serverLogger) Fatal(msg string, tags ...tag.Tag) { l.log(slog.LevelError, msg, tags) }

// With returns a logger that adds tags to every record.
func (l serverLogger) With(tags ...tag.Tag) log.Logger {
	return serverLogger{sl: l.sl, with: slices.Concat(l.with, tags)}
}

// SLog lets server code that wants an *slog.Logger use ours, level filter included.
func (l serverLogger) SLog() *slog.Logger {
	if len(l.with) == 0 {
		return l.sl
	}
	return slog.New(l.sl.Handler().WithAttrs(tagsToAttrs(l.with)))
}

func (l serverLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if !l.sl.Enabled(ctx, level) {
		return
	}
	l.sl.LogAttrs(ctx, level, msg, tagsToAttrs(slices.Concat(l.with, tags))...)
}

func tagsToAttrs(tags []tag.Tag) []slog.Attr {
	attrs := make([]slog.Attr, len(tags))
	for i, t := range tags {
		attrs[i] = slog.Any(t.Key(), t.Value())
	}
	return attrs
}
