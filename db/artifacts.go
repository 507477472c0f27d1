package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// ArtifactFilter selects artifacts for ListArtifacts and CountArtifacts. A
// zero Limit means no limit.
type ArtifactFilter struct {
	TaskID string
	Limit  int
	Offset int
}

func (f ArtifactFilter) apply(q *bun.SelectQuery) *bun.SelectQuery {
	if f.TaskID != "" {
		q = q.Where("task_id = ?", f.TaskID)
	}
	return q
}

// CreateArtifact inserts a.
func CreateArtifact(ctx context.Context, idb bun.IDB, a *Artifact) error {
	if _, err := idb.NewInsert().Model(a).Exec(ctx); err != nil {
		return fmt.Errorf("insert artifact: %w", err)
	}
	return nil
}

// GetArtifact returns the artifact with the given id, or ErrNotFound.
func GetArtifact(ctx context.Context, idb bun.IDB, id string) (*Artifact, error) {
	a := new(Artifact)
	if err := idb.NewSelect().Model(a).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return a, nil
}

// ListArtifacts returns artifacts newest first.
func ListArtifacts(ctx context.Context, idb bun.IDB, f ArtifactFilter) ([]Artifact, error) {
	artifacts := []Artifact{}
	q := f.apply(idb.NewSelect().Model(&artifacts)).Order("created_at DESC", "id DESC")
	if f.Limit > 0 {
		q = q.Limit(int64(f.Limit)).Offset(int64(f.Offset))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list artifacts: %w", err)
	}
	return artifacts, nil
}

// CountArtifacts counts the artifacts f selects, ignoring limit and offset.
func CountArtifacts(ctx context.Context, idb bun.IDB, f ArtifactFilter) (int, error) {
	n, err := f.apply(idb.NewSelect().Model((*Artifact)(nil))).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count artifacts: %w", err)
	}
	return int(n), nil
}

// ArtifactChildren returns the direct children of every artifact in
// parentIDs, oldest first.
func ArtifactChildren(ctx context.Context, idb bun.IDB, parentIDs []string) ([]Artifact, error) {
	children := []Artifact{}
	if len(parentIDs) == 0 {
		return children, nil
	}
	err := idb.NewSelect().Model(&children).
		Where("parent_id IN (?)", bun.In(parentIDs)).
		Order("created_at", "id").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list child artifacts: %w", err)
	}
	return children, nil
}

// JobArtifact is what a job record shows of its execution artifact.
type JobArtifact struct {
	ID        string     `bun:"id"`
	JobID     string     `bun:"job_id"`
	StartedAt *time.Time `bun:"started_at"`
	// DeletedAt is when the artifact was deleted; nil while it exists.
	DeletedAt *time.Time `bun:"-"`
}

// JobArtifacts maps each job id that has an execution artifact to it, or,
// once the artifact was deleted, to what is left of it.
func JobArtifacts(ctx context.Context, idb bun.IDB, jobIDs []string) (map[string]JobArtifact, error) {
	found := make(map[string]JobArtifact, len(jobIDs))
	if len(jobIDs) == 0 {
		return found, nil
	}
	var rows []JobArtifact
	// Oldest first, so the newest artifact of a reused (keyed) job id wins:
	// the earlier job with that id was deleted before the new one started.
	err := idb.NewSelect().Table("artifacts").Column("id", "job_id", "started_at").
		Where("job_id IN (?)", bun.In(jobIDs)).
		OrderExpr("created_at ASC, id ASC").
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("find job artifacts: %w", err)
	}
	for _, r := range rows {
		found[r.JobID] = r
	}
	var gone []string
	for _, id := range jobIDs {
		if _, ok := found[id]; !ok {
			gone = append(gone, id)
		}
	}
	deleted, err := deletedJobArtifacts(ctx, idb, gone)
	if err != nil {
		return nil, err
	}
	for id, a := range deleted {
		found[id] = a
	}
	return found, nil
}

// Get returns the artifact with the given id, or ErrNotFound.
func (s *ArtifactStore) Get(ctx context.Context, id string) (*Artifact, error) {
	return GetArtifact(ctx, s.DB, id)
}

// Children returns the direct children of the artifact id.
func (s *ArtifactStore) Children(ctx context.Context, id string) ([]Artifact, error) {
	return ArtifactChildren(ctx, s.DB, []string{id})
}

// Create stores a new artifact holding data under parentID ("" for a root)
// at the given level and returns it.
func (s *ArtifactStore) Create(ctx context.Context, parentID string, level int, data JSON) (*Artifact, error) {
	now := Now()
	a := &Artifact{ID: NewID(), Level: level, Data: data, CreatedAt: now, UpdatedAt: now}
	if parentID != "" {
		a.ParentID = &parentID
	}
	if err := CreateArtifact(ctx, s.DB, a); err != nil {
		return nil, err
	}
	return a, nil
}
