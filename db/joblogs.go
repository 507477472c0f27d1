package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// LogChunk is a piece of a job's live output. Offsets count bytes of the
// job's whole log (stdout and stderr interleaved as they arrived), so a
// reader resumes from the last offset it saw.
type LogChunk struct {
	bun.BaseModel `bun:"table:job_logs"`

	JobID  string `bun:"job_id,pk"`
	Offset int64  `bun:"offset,pk"`
	// Stream is "stdout", "stderr" or "system" (notes from chaptask itself,
	// such as a restarted attempt or a truncated log).
	Stream    string    `bun:"stream,notnull"`
	Data      string    `bun:"data,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
}

// End is the offset just past the chunk.
func (c LogChunk) End() int64 { return c.Offset + int64(len(c.Data)) }

// AppendJobLog stores chunks of a job's log. Chunks already stored (same
// offset, as when a write is retried) are kept as they are.
func AppendJobLog(ctx context.Context, idb bun.IDB, chunks []LogChunk) error {
	if len(chunks) == 0 {
		return nil
	}
	if _, err := idb.NewInsert().Model(&chunks).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("append log of job %s: %w", chunks[0].JobID, err)
	}
	return nil
}

// JobLogEnd is the offset just past the last stored chunk of the job's log,
// 0 for a job without one.
func JobLogEnd(ctx context.Context, idb bun.IDB, jobID string) (int64, error) {
	var last LogChunk
	err := idb.NewSelect().Model(&last).Where("job_id = ?", jobID).OrderExpr(`"offset" DESC`).Limit(1).Scan(ctx)
	if err != nil {
		if errors.Is(notFound(err), ErrNotFound) {
			return 0, nil
		}
		return 0, fmt.Errorf("read log end of job %s: %w", jobID, err)
	}
	return last.End(), nil
}

// JobLog returns the chunks of the job's log that end after offset, in
// order, stopping once about maxBytes are collected. The first chunk may
// start before offset; callers trim it.
func JobLog(ctx context.Context, idb bun.IDB, jobID string, offset int64, maxBytes int) ([]LogChunk, error) {
	var chunks []LogChunk
	// A chunk that starts before offset may still reach past it: the one
	// with the greatest start at or before offset is included.
	start := idb.NewSelect().Model((*LogChunk)(nil)).ColumnExpr(`COALESCE(MAX("offset"), 0)`).
		Where("job_id = ?", jobID).Where(`"offset" <= ?`, offset)
	err := idb.NewSelect().Model(&chunks).
		Where("job_id = ?", jobID).
		Where(`"offset" >= (?)`, start).
		OrderExpr(`"offset" ASC`).
		Limit(maxLogChunksPerRead).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("read log of job %s: %w", jobID, err)
	}
	total := 0
	for i, c := range chunks {
		total += len(c.Data)
		if total >= maxBytes {
			return chunks[:i+1], nil
		}
	}
	return chunks, nil
}

// maxLogChunksPerRead bounds one read; chunks are small (the writer flushes
// often), so this is far more than a reader's byte budget usually needs.
const maxLogChunksPerRead = 512

// DeleteJobLog removes the job's log, when the job itself is deleted.
func DeleteJobLog(ctx context.Context, idb bun.IDB, jobID string) error {
	if _, err := idb.NewDelete().Model((*LogChunk)(nil)).Where("job_id = ?", jobID).Exec(ctx); err != nil {
		return fmt.Errorf("delete log of job %s: %w", jobID, err)
	}
	return nil
}
