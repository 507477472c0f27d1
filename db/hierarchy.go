package db

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/uptrace/bun"
)

// Reservation is an artifact whose id a running job reserved before the
// job stored it: artifacts of the job's function and of its child jobs
// point at it meanwhile.
type Reservation struct {
	// ID is the reserved artifact id.
	ID string
	// JobID is the job that will store the artifact.
	JobID string
	// ParentID is the artifact the reserved one goes under; "" for a root.
	ParentID string
	// Level is the reserved artifact's level.
	Level int
}

// pendingData is what a reserved artifact holds until its job stores it;
// it stays so when the job never does (canceled, failed).
type pendingData struct {
	Pending bool   `json:"pending"`
	JobID   string `json:"job_id"`
}

// ReserveArtifact makes sure the reserved artifact's row exists, so that
// artifacts can name it as their parent before its job finished (the
// parent_id foreign key holds on both databases). The row holds
// {"pending": true, "job_id": …} and no job_id column, so job records do not
// take it for the job's artifact until the job stores it (see
// PersistJobArtifact). Calling it again changes nothing.
func ReserveArtifact(ctx context.Context, idb bun.IDB, r Reservation) error {
	data, err := json.Marshal(pendingData{Pending: true, JobID: r.JobID})
	if err != nil {
		return fmt.Errorf("reserve artifact %s: %w", r.ID, err)
	}
	now := Now()
	a := &Artifact{ID: r.ID, Level: r.Level, Data: JSON(data), CreatedAt: now, UpdatedAt: now}
	if r.ParentID != "" {
		a.ParentID = &r.ParentID
	}
	if _, err := idb.NewInsert().Model(a).On("CONFLICT (id) DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("reserve artifact %s of job %s: %w", r.ID, r.JobID, err)
	}
	return nil
}

// storeReserved stores a as the reserved artifact of its job in one
// statement: a new row, or the row ReserveArtifact made, which takes a's
// data and job columns and keeps its creation time. A row that already
// belongs to a job is left alone.
func storeReserved(ctx context.Context, idb bun.IDB, a *Artifact) error {
	_, err := idb.NewInsert().Model(a).
		On("CONFLICT (id) DO UPDATE").
		Set("parent_id = EXCLUDED.parent_id").
		Set("level = EXCLUDED.level").
		Set("data = EXCLUDED.data").
		Set("job_id = EXCLUDED.job_id").
		Set("task_id = EXCLUDED.task_id").
		Set("started_at = EXCLUDED.started_at").
		Set("run_id = EXCLUDED.run_id").
		Set("updated_at = EXCLUDED.updated_at").
		Where("?TableAlias.job_id IS NULL").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("store reserved artifact %s: %w", a.ID, err)
	}
	return nil
}
