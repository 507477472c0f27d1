package chaptask

import (
	"context"
	"errors"
	"log/slog"

	"go.temporal.io/sdk/temporal"
)

// quietCancels passes the Temporal SDK's log records on, except that the two
// it writes for every routine cancel of a run step lose their alarm: "Activity
// error." with a cancellation goes to Info and the heartbeat's "canceled"
// warning to Debug. A cancel is something a user asked for; ERROR stays for
// what an operator must act on. The SDK's messages and its "Error" key are
// what it logs in go.temporal.io/sdk/internal (internal_task_handlers.go).
type quietCancels struct{ slog.Handler }

func (h quietCancels) Handle(ctx context.Context, rec slog.Record) error {
	if level, ok := cancelLevel(rec); ok {
		if !h.Handler.Enabled(ctx, level) {
			return nil
		}
		rec.Level = level
	}
	return h.Handler.Handle(ctx, rec)
}

func (h quietCancels) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietCancels{h.Handler.WithAttrs(attrs)}
}

func (h quietCancels) WithGroup(name string) slog.Handler {
	return quietCancels{h.Handler.WithGroup(name)}
}

// cancelLevel is the level for a record about a cancellation, and false for
// every other record.
func cancelLevel(rec slog.Record) (slog.Level, bool) {
	var level slog.Level
	switch rec.Message {
	case "Activity error.":
		level = slog.LevelInfo
	case "RecordActivityHeartbeat with error":
		level = slog.LevelDebug
	default:
		return 0, false
	}
	canceled := false
	rec.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && a.Key == "Error" {
			canceled = errors.Is(err, context.Canceled) || temporal.IsCanceledError(err)
			return false
		}
		return true
	})
	return level, canceled && rec.Level > level
}
