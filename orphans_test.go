package chaptask

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/chaptask/chaptask/db"
)

// TestOrphanLog: disabled orphan tasks are logged in chapkit's three parts,
// with its words: the warning with count, ids and commands, a line per
// task, the total.
func TestOrphanLog(t *testing.T) {
	var buf bytes.Buffer
	logOrphans(slog.New(slog.NewTextHandler(&buf, nil)), []db.Task{
		{ID: "01JCSEED0000000000000PYTH7", Command: "nonexistent_function"},
		{ID: "01JCSEED0000000000000PYTH9", Command: "removed_function"},
	})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`level=WARN msg="Found orphaned Python tasks - disabling them" count=2 task_ids="[01JCSEED0000000000000PYTH7 01JCSEED0000000000000PYTH9]" commands="[nonexistent_function removed_function]"`,
		`level=INFO msg="Disabling orphaned task 01JCSEED0000000000000PYTH7: function 'nonexistent_function' not found in registry"`,
		`level=INFO msg="Disabling orphaned task 01JCSEED0000000000000PYTH9: function 'removed_function' not found in registry"`,
		`level=WARN msg="Disabled 2 orphaned Python task(s)" count=2`,
	}
	if len(lines) != len(want) {
		t.Fatalf("log:\n%s", buf.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %s, want it to contain %s", i, lines[i], w)
		}
	}
	buf.Reset()
	logOrphans(slog.New(slog.NewTextHandler(&buf, nil)), nil)
	if buf.Len() != 0 {
		t.Errorf("no orphans logged %s", buf.String())
	}
	if n := defaultMaxConcurrency(); n < 3 {
		t.Errorf("default max concurrency %d, want at least chapkit's 3", n)
	}
}
