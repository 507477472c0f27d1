package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrNotStorable means the database refused a job's output for what it is
// (a value it cannot hold, a violated constraint): retrying cannot help,
// unlike an outage.
var ErrNotStorable = errors.New("the database refuses the data")

// refusal wraps err with ErrNotStorable when the database refused the
// statement for its content rather than failing to run it.
func refusal(err error) error {
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		// Classes 22 (data exception) and 23 (integrity constraint).
		if class := pgErr.Field('C'); len(class) == 5 && (class[:2] == "22" || class[:2] == "23") {
			return fmt.Errorf("%w: %w", ErrNotStorable, err)
		}
		return err
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() & 0xff {
		case sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH:
			return fmt.Errorf("%w: %w", ErrNotStorable, err)
		}
	}
	return err
}

// jobOutput is artifact data of a job too large to cross Temporal, staged by
// the run step until the persist step turns it into the artifact.
type jobOutput struct {
	bun.BaseModel `bun:"table:job_outputs"`

	JobID string `bun:"job_id,pk"`
	Data  JSON   `bun:"data,notnull"`
	// CreatedAt tells how old a staged output is if a job never finishes.
	CreatedAt time.Time `bun:"created_at,notnull"`
}

// StageJobOutput stores data for the job; a retried run step replaces what
// an earlier attempt staged.
func StageJobOutput(ctx context.Context, idb bun.IDB, jobID string, data JSON) error {
	out := &jobOutput{JobID: jobID, Data: data, CreatedAt: Now()}
	_, err := idb.NewInsert().Model(out).
		On("CONFLICT (job_id) DO UPDATE").
		Set("data = EXCLUDED.data").
		Set("created_at = EXCLUDED.created_at").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("stage output of job %s: %w", jobID, err)
	}
	return nil
}

// Execution is a finished run of a job, to be stored as its artifact.
type Execution struct {
	JobID string
	// RunID is the Temporal run of the job. Empty only for runs that
	// predate it; with it, a later job reusing the id stores its own
	// artifact instead of finding this one.
	RunID     string
	TaskID    string
	StartedAt time.Time
	// Data is the artifact data; nil means "take the staged output".
	Data JSON
	// Log is the end of the job's live output not stored yet; it is
	// stored with the artifact, so that a job's log is complete exactly
	// when its artifact exists.
	Log []LogChunk
	// ArtifactID is the id the job reserved for its artifact; empty gives
	// a fresh one.
	ArtifactID string
	// ParentID is the parent job's artifact, for child jobs; it may be a
	// reservation whose row does not exist yet.
	ParentID string
	// Level is the artifact's level: 0 for a root.
	Level int
}

// PersistJobArtifact stores the execution artifact of a job exactly once and
// returns its id, and whether this call stored it. Calling it again for the
// same job returns the artifact stored the first time.
func PersistJobArtifact(ctx context.Context, db *bun.DB, e Execution) (id string, created bool, err error) {
	jobID, taskID, data := e.JobID, e.TaskID, e.Data
	var artifactID string
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// Artifacts stored before run ids were recorded have none; their
		// job ids were never reused, so they still belong to this run.
		var found []string
		q := tx.NewSelect().Table("artifacts").Column("id").Where("job_id = ?", jobID)
		if e.RunID != "" {
			q = q.Where("(run_id = ? OR run_id IS NULL)", e.RunID)
		}
		if err := q.Limit(1).Scan(ctx, &found); err != nil {
			return fmt.Errorf("find artifact of job %s: %w", jobID, err)
		}
		if len(found) > 0 {
			artifactID = found[0]
			return nil
		}
		if data == nil {
			staged := new(jobOutput)
			if err := tx.NewSelect().Model(staged).Where("job_id = ?", jobID).Scan(ctx); err != nil {
				return notFound(err)
			}
			data = staged.Data
		}
		now := Now()
		started := e.StartedAt.UTC().Truncate(time.Microsecond)
		a := &Artifact{ID: NewID(), Level: e.Level, Data: data, JobID: &jobID, TaskID: &taskID, StartedAt: &started, CreatedAt: now, UpdatedAt: now}
		if e.RunID != "" {
			a.RunID = &e.RunID
		}
		if e.ParentID != "" {
			// The parent job reserved the row before starting this job;
			// it is made again here only if it was deleted meanwhile.
			a.ParentID = &e.ParentID
			if err := ReserveArtifact(ctx, tx, Reservation{ID: e.ParentID, JobID: "", Level: max(e.Level-1, 0)}); err != nil {
				return err
			}
		}
		if e.ArtifactID != "" {
			a.ID = e.ArtifactID
			if err := storeReserved(ctx, tx, a); err != nil {
				return err
			}
		} else if err := CreateArtifact(ctx, tx, a); err != nil {
			return err
		}
		if err := AppendJobLog(ctx, tx, e.Log); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*jobOutput)(nil)).Where("job_id = ?", jobID).Exec(ctx); err != nil {
			return err
		}
		artifactID, created = a.ID, true
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return "", false, fmt.Errorf("persist artifact of job %s: no staged output: %w", jobID, ErrNotFound)
	}
	if err != nil {
		return "", false, fmt.Errorf("persist artifact of job %s: %w", jobID, refusal(err))
	}
	return artifactID, created, nil
}
