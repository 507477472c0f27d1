package embedded

import (
	"bytes"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"go.temporal.io/server/common/log/tag"
)

func TestServerLoggerWith(t *testing.T) {
	var out bytes.Buffer
	inner := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})
	base := serverLogger{sl: slog.New(filterHandler{min: slog.LevelWarn, muted: new(atomic.Bool), inner: inner})}

	shard := base.With(tag.NewStringTag("shard", "1"))
	task := shard.(serverLogger).With(tag.NewStringTag("task", "a"))
	other := shard.(serverLogger).With(tag.NewStringTag("task", "b"))

	task.Warn("slow", tag.NewInt("ms", 7))
	other.Error("failed")
	task.Info("below the level")
	shard.(serverLogger).SLog().Warn("through slog")

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"msg=slow shard=1 task=a ms=7",
		"msg=failed shard=1 task=b",
		"msg=\"through slog\" shard=1",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d records, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, w := range want {
		if !strings.HasSuffix(lines[i], w) {
			t.Errorf("record %d = %q, want it to end in %q", i, lines[i], w)
		}
	}
}

// A refused call is logged as a warning: the client's error, not the
// server's.
func TestServerLoggerRefusedCallIsWarning(t *testing.T) {
	var out bytes.Buffer
	inner := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})
	l := serverLogger{sl: slog.New(filterHandler{min: slog.LevelDebug, muted: new(atomic.Bool), inner: inner})}
	l.Error(refusedCallMsg, tag.NewStringTag("error", "invalid API key"))
	l.Error("persistence failed")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[1], "level=ERROR") {
		t.Fatalf("want a WARN then an ERROR record, got:\n%s", out.String())
	}
}
