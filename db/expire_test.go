package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
)

func TestExpireArtifacts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		ctx := context.Background()
		now := db.Now()
		cutoff := now.Add(-time.Hour)
		store := func(jobID string, at time.Time) string {
			t.Helper()
			a := &db.Artifact{ID: db.NewID(), Data: db.JSON(`{}`), JobID: &jobID, StartedAt: &at, CreatedAt: at, UpdatedAt: at}
			if err := db.CreateArtifact(ctx, bdb, a); err != nil {
				t.Fatal(err)
			}
			if err := db.AppendJobLog(ctx, bdb, []db.LogChunk{{JobID: jobID, Stream: "stdout", Data: "x", CreatedAt: at}}); err != nil {
				t.Fatal(err)
			}
			return a.ID
		}
		oldJobs := map[string]string{}
		for range 5 {
			job := db.NewID()
			oldJobs[job] = store(job, now.Add(-2*time.Hour))
		}
		newJob := db.NewID()
		newArtifact := store(newJob, now)
		// A job that left a log but no artifact (failed before storing one).
		logOnly := db.NewID()
		if err := db.AppendJobLog(ctx, bdb, []db.LogChunk{{JobID: logOnly, Stream: "stdout", Data: "y", CreatedAt: now.Add(-2 * time.Hour)}}); err != nil {
			t.Fatal(err)
		}

		removed := 0
		for batches := 0; ; batches++ {
			got, err := db.ExpireArtifacts(ctx, bdb, cutoff, 2)
			if err != nil {
				t.Fatal(err)
			}
			removed += len(got)
			if len(got) < 2 {
				if batches != 2 {
					t.Errorf("%d full batches of 2 for 5 artifacts, want 2", batches)
				}
				break
			}
		}
		if removed != len(oldJobs) {
			t.Errorf("removed %d artifacts, want %d", removed, len(oldJobs))
		}
		if n, err := db.ExpireJobLogs(ctx, bdb, cutoff, 10); err != nil || n != 1 {
			t.Errorf("ExpireJobLogs = %d, %v; want the one log without an artifact", n, err)
		}

		ids := []string{newJob, logOnly}
		for job := range oldJobs {
			ids = append(ids, job)
		}
		found, err := db.JobArtifacts(ctx, bdb, ids)
		if err != nil {
			t.Fatal(err)
		}
		for job, artifact := range oldJobs {
			if a := found[job]; a.ID != artifact || a.DeletedAt == nil {
				t.Errorf("job %s: %+v, want artifact %s marked deleted", job, a, artifact)
			}
			if _, err := db.GetArtifact(ctx, bdb, artifact); err != db.ErrNotFound {
				t.Errorf("expired artifact %s: %v, want not found", artifact, err)
			}
			if end, _ := db.JobLogEnd(ctx, bdb, job); end != 0 {
				t.Errorf("job %s keeps its log after its artifact expired", job)
			}
		}
		if a := found[newJob]; a.ID != newArtifact || a.DeletedAt != nil {
			t.Errorf("new job: %+v, want its artifact %s, not deleted", a, newArtifact)
		}
		for _, job := range []string{newJob} {
			if end, _ := db.JobLogEnd(ctx, bdb, job); end == 0 {
				t.Errorf("job %s lost its new log", job)
			}
		}
		if end, _ := db.JobLogEnd(ctx, bdb, logOnly); end != 0 {
			t.Errorf("old log without an artifact survived")
		}
	})
}

// TestCallTimeout checks that a marked context bounds each call, and that
// a transaction under it still commits.
func TestCallTimeout(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		ctx := db.WithCallTimeout(context.Background(), 2*time.Second)
		job := db.NewID()
		at := db.Now()
		a := &db.Artifact{ID: db.NewID(), Data: db.JSON(`{}`), JobID: &job, CreatedAt: at, UpdatedAt: at}
		if err := db.CreateArtifact(ctx, bdb, a); err != nil {
			t.Fatal(err)
		}
		if _, err := db.DeleteArtifact(ctx, bdb, a.ID); err != nil {
			t.Fatalf("delete in a transaction under a call timeout: %v", err)
		}
		if _, err := db.GetArtifact(ctx, bdb, a.ID); err != db.ErrNotFound {
			t.Errorf("artifact after delete: %v, want not found", err)
		}
	})
}
