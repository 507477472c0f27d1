package activities

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
)

func readLog(t *testing.T, bdb *bun.DB, jobID string) (string, []db.LogChunk) {
	t.Helper()
	var all []db.LogChunk
	var text strings.Builder
	for offset := int64(0); ; {
		chunks, err := db.JobLog(context.Background(), bdb, jobID, offset, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(chunks) == 0 || chunks[len(chunks)-1].End() <= offset {
			break
		}
		for _, c := range chunks {
			if c.End() <= offset {
				continue
			}
			if c.Offset != offset {
				t.Fatalf("chunk at %d, want %d: the log has a gap or an overlap", c.Offset, offset)
			}
			all = append(all, c)
			text.WriteString(c.Data)
			offset = c.End()
		}
	}
	return text.String(), all
}

func TestLiveLog(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		ctx := context.Background()
		jobID := db.NewID()
		logger := slog.New(slog.DiscardHandler)

		l := startLiveLog(ctx, bdb, jobID, 1, 1<<20, logger)
		out, errw := l.writer("stdout"), l.writer("stderr")
		euro := []byte("€") // three bytes, written across two writes
		out.Write([]byte("hello "))
		out.Write(euro[:2])
		out.Write(append(euro[2:], '\n'))
		errw.Write([]byte("bad \xff and nul \x00\n"))
		out.Write([]byte(strings.Repeat("x", 100<<10)))
		l.close(ctx)

		text, chunks := readLog(t, bdb, jobID)
		want := "hello €\nbad \uFFFD and nul \uFFFD\n" + strings.Repeat("x", 100<<10)
		if text != want {
			t.Fatalf("log = %.80q… (%d bytes), want %.80q… (%d bytes)", text, len(text), want, len(want))
		}
		if chunks[0].Stream != "stdout" || chunks[1].Stream != "stderr" || chunks[2].Stream != "stdout" {
			t.Errorf("streams not kept apart: %s %s %s", chunks[0].Stream, chunks[1].Stream, chunks[2].Stream)
		}

		// A second attempt continues after the first, with a note.
		l = startLiveLog(ctx, bdb, jobID, 2, 16, logger)
		l.writer("stdout").Write([]byte("again, and far beyond the limit\n"))
		l.close(ctx)
		text, _ = readLog(t, bdb, jobID)
		rest := strings.TrimPrefix(text, want)
		if !strings.Contains(rest, "attempt 2") || !strings.Contains(rest, "again, and far b") ||
			strings.Contains(rest, "beyond") || !strings.Contains(rest, "live output stops after 16 bytes") {
			t.Errorf("second attempt's log: %q", rest)
		}

		chunks, err := db.JobLog(ctx, bdb, jobID, int64(len("hello ")), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(chunks) != 1 || chunks[0].Offset != 0 {
			t.Errorf("read from inside the first chunk: %+v", chunks)
		}
	})
}
