package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// deletedArtifact is what stays of a deleted execution artifact: its job's
// record shows the artifact id with the time it was deleted.
type deletedArtifact struct {
	bun.BaseModel `bun:"table:deleted_artifacts"`

	ID        string     `bun:"id,pk"`
	JobID     string     `bun:"job_id,notnull"`
	RunID     *string    `bun:"run_id"`
	StartedAt *time.Time `bun:"started_at"`
	DeletedAt time.Time  `bun:"deleted_at,notnull"`
}

// DeleteArtifact removes the artifact id with its descendants (they hang
// off it and mean nothing alone) and, for an execution artifact, the live
// output log of its job; its job's record then says the artifact was
// deleted. It returns ErrNotFound when there is no such artifact.
// It returns what it deleted: the artifact's id, job id and run id.
func DeleteArtifact(ctx context.Context, db *bun.DB, id string) (*Artifact, error) {
	ctx, cancel := callContext(ctx)
	defer cancel()
	removed, err := removeArtifacts(ctx, db, func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("id = ?", id)
	})
	if err != nil {
		return nil, fmt.Errorf("delete artifact %s: %w", id, err)
	}
	if len(removed) == 0 {
		return nil, ErrNotFound
	}
	return &removed[0], nil
}

// ExpireArtifacts removes at most batch artifacts created before cutoff,
// oldest first, as DeleteArtifact does, in one short transaction, and
// returns them (id, job id and run id); fewer than batch means none are
// left.
func ExpireArtifacts(ctx context.Context, db *bun.DB, cutoff time.Time, batch int) ([]Artifact, error) {
	removed, err := removeArtifacts(ctx, db, func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("created_at < ?", cutoff.UTC()).OrderExpr("created_at ASC, id ASC").Limit(int64(batch))
	})
	if err != nil {
		return nil, fmt.Errorf("expire artifacts before %s: %w", cutoff.Format(time.RFC3339), err)
	}
	return removed, nil
}

// ExpireJobLogs removes the live output logs of at most batch jobs whose log
// began before cutoff (jobs that left no artifact to expire with them), and
// returns how many jobs' logs it removed.
func ExpireJobLogs(ctx context.Context, idb bun.IDB, cutoff time.Time, batch int) (int, error) {
	var jobIDs []string
	err := idb.NewSelect().Model((*LogChunk)(nil)).Column("job_id").
		Where(`"offset" = 0`).Where("created_at < ?", cutoff.UTC()).
		OrderExpr("created_at ASC").Limit(int64(batch)).Scan(ctx, &jobIDs)
	if err != nil {
		return 0, fmt.Errorf("find expired job logs: %w", err)
	}
	if len(jobIDs) == 0 {
		return 0, nil
	}
	if _, err := idb.NewDelete().Model((*LogChunk)(nil)).Where("job_id IN (?)", bun.In(jobIDs)).Exec(ctx); err != nil {
		return 0, fmt.Errorf("delete expired job logs: %w", err)
	}
	return len(jobIDs), nil
}

// removeArtifacts deletes the artifacts pick selects, in one transaction:
// tombstones for the execution artifacts, their jobs' logs, then the rows
// (descendants follow by ON DELETE CASCADE).
func removeArtifacts(ctx context.Context, db *bun.DB, pick func(*bun.SelectQuery) *bun.SelectQuery) ([]Artifact, error) {
	var removed []Artifact
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var victims []Artifact
		if err := pick(tx.NewSelect().Model(&victims).Column("id", "job_id", "run_id", "started_at")).Scan(ctx); err != nil {
			return err
		}
		if len(victims) == 0 {
			return nil
		}
		now := Now()
		ids := make([]string, 0, len(victims))
		var jobIDs []string
		var stones []deletedArtifact
		for _, a := range victims {
			ids = append(ids, a.ID)
			if a.JobID != nil {
				jobIDs = append(jobIDs, *a.JobID)
				stones = append(stones, deletedArtifact{ID: a.ID, JobID: *a.JobID, RunID: a.RunID, StartedAt: a.StartedAt, DeletedAt: now})
			}
		}
		if len(stones) > 0 {
			if _, err := tx.NewInsert().Model(&stones).On("CONFLICT (id) DO NOTHING").Exec(ctx); err != nil {
				return fmt.Errorf("record deleted artifacts: %w", err)
			}
			if _, err := tx.NewDelete().Model((*LogChunk)(nil)).Where("job_id IN (?)", bun.In(jobIDs)).Exec(ctx); err != nil {
				return fmt.Errorf("delete job logs: %w", err)
			}
		}
		if _, err := tx.NewDelete().Model((*Artifact)(nil)).Where("id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
			return err
		}
		removed = victims
		return nil
	})
	return removed, err
}

// deletedJobArtifacts maps each of jobIDs whose execution artifact was
// deleted to what its record shows.
func deletedJobArtifacts(ctx context.Context, idb bun.IDB, jobIDs []string) (map[string]JobArtifact, error) {
	found := map[string]JobArtifact{}
	if len(jobIDs) == 0 {
		return found, nil
	}
	var stones []deletedArtifact
	// Oldest first: the newest deletion of a reused (keyed) job id wins.
	err := idb.NewSelect().Model(&stones).Where("job_id IN (?)", bun.In(jobIDs)).
		OrderExpr("deleted_at ASC, id ASC").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("find deleted job artifacts: %w", err)
	}
	for _, s := range stones {
		found[s.JobID] = JobArtifact{ID: s.ID, JobID: s.JobID, StartedAt: s.StartedAt, DeletedAt: &s.DeletedAt}
	}
	return found, nil
}
