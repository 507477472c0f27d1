package activities

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db"
)

// Live log flushing: often enough that a reader following a job sees output
// within a fraction of a second, in chunks small enough to page through.
const (
	liveFlushEvery = 200 * time.Millisecond
	liveChunkMax   = 64 << 10
	liveFlushAt    = 32 << 10
	// liveFinalFlushMax bounds one flush. The last one is tried once: what
	// it cannot store goes with the artifact.
	liveFinalFlushMax = 3 * time.Second
)

// liveLog stores a running command's output in the job's log as it arrives,
// so that it can be read before the job ends. Writes never block the
// command: they append to a buffer (bounded by the log's size limit) that a
// goroutine flushes to the database. The log is a convenience; the artifact
// stays the record of the job's output.
type liveLog struct {
	bdb    *bun.DB
	jobID  string
	logger *slog.Logger
	max    int64 // bytes of output stored at most

	mu        sync.Mutex
	pending   []db.LogChunk
	pendBytes int
	next      int64 // offset of the next byte
	accepted  int64 // output bytes taken into the log
	truncated bool
	carry     map[string][]byte // an incomplete UTF-8 sequence per stream
	failing   bool              // the last flush failed (logged once)

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// startLiveLog opens the job's log after whatever earlier attempts wrote.
func startLiveLog(ctx context.Context, bdb *bun.DB, jobID string, attempt int32, max int64, logger *slog.Logger) *liveLog {
	l := &liveLog{
		bdb: bdb, jobID: jobID, logger: logger, max: max,
		carry: map[string][]byte{},
		wake:  make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	// Bounded: a stalled database must not hold the command back past its
	// heartbeat timeout.
	endCtx, cancel := context.WithTimeout(ctx, liveFinalFlushMax)
	end, err := db.JobLogEnd(endCtx, bdb, jobID)
	cancel()
	if err != nil {
		logger.Warn("live log: cannot find the end of earlier output; starting at 0", "error", err)
	}
	l.next = end
	if attempt > 1 && end > 0 {
		l.appendLocked("system", fmt.Sprintf("\n[chaptask] attempt %d runs the command again\n", attempt))
	}
	// Flushing outlives the activity's cancellation: output written before
	// a cancel is still worth keeping.
	go l.flushLoop(context.WithoutCancel(ctx))
	return l
}

// writer is the io.Writer of one stream ("stdout" or "stderr"); a nil log
// discards.
func (l *liveLog) writer(stream string) io.Writer {
	if l == nil {
		return io.Discard
	}
	return streamWriter{l, stream}
}

type streamWriter struct {
	l      *liveLog
	stream string
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.l.write(w.stream, p, false)
	return len(p), nil
}

// write appends p as text: invalid UTF-8 and NUL (which PostgreSQL's text
// refuses) become U+FFFD, and a rune split across writes is kept whole.
func (l *liveLog) write(stream string, p []byte, final bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.truncated {
		return
	}
	buf := append(l.carry[stream], p...)
	cut := len(buf)
	if !final {
		// Hold back a trailing partial rune (at most 3 bytes) for the next write.
		for i := len(buf) - 1; i >= 0 && i >= len(buf)-3; i-- {
			if utf8.RuneStart(buf[i]) {
				if !utf8.FullRune(buf[i:]) {
					cut = i
				}
				break
			}
		}
	}
	l.carry[stream] = append([]byte(nil), buf[cut:]...)
	text := strings.ReplaceAll(strings.ToValidUTF8(string(buf[:cut]), "\uFFFD"), "\x00", "\uFFFD")
	if room := l.max - l.accepted; int64(len(text)) > room {
		text = strings.ToValidUTF8(text[:room], "")
		l.truncated = true
	}
	l.accepted += int64(len(text))
	l.appendLocked(stream, text)
	if l.truncated {
		l.appendLocked("system", fmt.Sprintf("\n[chaptask] live output stops after %d bytes; the artifact keeps the head and tail of each stream\n", l.max))
	}
	if l.pendBytes >= liveFlushAt {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

func (l *liveLog) appendLocked(stream, text string) {
	for len(text) > 0 {
		if n := len(l.pending); n > 0 && l.pending[n-1].Stream == stream && len(l.pending[n-1].Data) < liveChunkMax {
			last := &l.pending[n-1]
			take := min(len(text), liveChunkMax-len(last.Data))
			take = runeCut(text, take)
			last.Data += text[:take]
			l.next += int64(take)
			l.pendBytes += take
			text = text[take:]
			continue
		}
		l.pending = append(l.pending, db.LogChunk{JobID: l.jobID, Offset: l.next, Stream: stream, CreatedAt: db.Now()})
	}
}

// runeCut lowers n to a rune boundary of s (never below 1 rune).
func runeCut(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	if n == 0 {
		_, size := utf8.DecodeRuneInString(s)
		return size
	}
	return n
}

func (l *liveLog) flushLoop(ctx context.Context) {
	defer close(l.done)
	tick := time.NewTicker(liveFlushEvery)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		case <-l.wake:
		}
		fctx, cancel := context.WithTimeout(ctx, liveFinalFlushMax)
		l.flush(fctx)
		cancel()
	}
}

// flush stores what is pending. On failure the chunks stay pending and the
// next flush tries again; their total is bounded by the log's limit.
func (l *liveLog) flush(ctx context.Context) {
	l.mu.Lock()
	chunks := l.pending
	l.pending, l.pendBytes = nil, 0
	l.mu.Unlock()
	if len(chunks) == 0 {
		return
	}
	err := db.AppendJobLog(ctx, l.bdb, chunks)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if !l.failing {
			l.logger.Warn("live log: cannot store output; retrying", "error", err)
		}
		l.failing = true
		l.pending = append(chunks, l.pending...)
		for _, c := range chunks {
			l.pendBytes += len(c.Data)
		}
		return
	}
	l.failing = false
}

// close tries once to store the rest of the output and returns what it
// could not store: the caller stores that with the artifact, so that a
// database outage at the end of a run leaves the log complete. A nil log
// returns nothing.
func (l *liveLog) close(ctx context.Context) []db.LogChunk {
	if l == nil {
		return nil
	}
	close(l.stop)
	<-l.done
	for _, stream := range []string{"stdout", "stderr"} {
		l.write(stream, nil, true)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), liveFinalFlushMax)
	defer cancel()
	l.flush(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pending
}
