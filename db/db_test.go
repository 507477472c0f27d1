package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
)

func TestPersistJobArtifactIsIdempotent(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		jobID, taskID := db.NewID(), db.NewID()
		first, created, err := db.PersistJobArtifact(ctx, bdb, db.Execution{JobID: jobID, TaskID: taskID, StartedAt: time.Now(), Data: db.JSON(`{"stdout":"a"}`)})
		if err != nil || !created {
			t.Fatalf("first persist: created %v, %v", created, err)
		}
		again, created, err := db.PersistJobArtifact(ctx, bdb, db.Execution{JobID: jobID, TaskID: taskID, StartedAt: time.Now(), Data: db.JSON(`{"stdout":"b"}`)})
		if err != nil || again != first || created {
			t.Fatalf("retry gave %q (created %v), %v; want the first artifact %q", again, created, err, first)
		}
		n, err := db.CountArtifacts(ctx, bdb, db.ArtifactFilter{TaskID: taskID})
		if err != nil || n != 1 {
			t.Fatalf("%d artifacts, %v", n, err)
		}
		found, err := db.JobArtifacts(ctx, bdb, []string{jobID, db.NewID()})
		if err != nil || len(found) != 1 || found[jobID].ID != first || found[jobID].StartedAt == nil {
			t.Errorf("JobArtifacts = %v, %v", found, err)
		}
	})
}

func TestPersistStagedOutput(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		jobID, taskID := db.NewID(), db.NewID()
		if _, _, err := db.PersistJobArtifact(ctx, bdb, db.Execution{JobID: jobID, TaskID: taskID, StartedAt: time.Now()}); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("nothing staged: err = %v", err)
		}
		if err := db.StageJobOutput(ctx, bdb, jobID, db.JSON(`{"attempt":1}`)); err != nil {
			t.Fatal(err)
		}
		// A retried run step replaces what the first attempt staged.
		if err := db.StageJobOutput(ctx, bdb, jobID, db.JSON(`{"attempt":2}`)); err != nil {
			t.Fatal(err)
		}
		id, _, err := db.PersistJobArtifact(ctx, bdb, db.Execution{JobID: jobID, TaskID: taskID, StartedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		a, err := db.GetArtifact(ctx, bdb, id)
		if err != nil || string(a.Data) != `{"attempt": 2}` && string(a.Data) != `{"attempt":2}` {
			t.Fatalf("artifact %s, %v", a.Data, err)
		}
		// The staged copy is gone, and persisting again is still idempotent.
		if again, created, err := db.PersistJobArtifact(ctx, bdb, db.Execution{JobID: jobID, TaskID: taskID, StartedAt: time.Now()}); err != nil || again != id || created {
			t.Errorf("second persist = %q (created %v), %v", again, created, err)
		}
	})
}

func TestSeedAndOrphans(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2025, 10, 17, 10, 0, 0, 0, time.UTC)
	tasks := []db.Task{
		{ID: "01JCSEED0000000000000PYTH1", Command: "calculate_sum", TaskType: "python", Parameters: db.JSON(`{"a":10}`), Enabled: true, CreatedAt: at, UpdatedAt: at},
		{ID: "01JCSEED0000000000000PYTH7", Command: "nonexistent_function", TaskType: "python", Enabled: true, CreatedAt: at, UpdatedAt: at},
		{ID: "01JCSEED0000000000000PYTH9", Command: "gone_but_disabled", TaskType: "go", Enabled: false, CreatedAt: at, UpdatedAt: at},
		{ID: "01JCSEED0000000000000PYTHA", Command: "echo not a function", TaskType: "shell", Enabled: true, CreatedAt: at, UpdatedAt: at},
	}
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		if n, err := db.SeedTasks(ctx, bdb, tasks); err != nil || n != 4 {
			t.Fatalf("seed = %d, %v", n, err)
		}
		if n, err := db.SeedTasks(ctx, bdb, tasks); err != nil || n != 0 {
			t.Fatalf("second seed = %d, %v; want nothing on a non-empty database", n, err)
		}
		orphans, err := db.DisableOrphanTasks(ctx, bdb, func(name string) bool { return name == "calculate_sum" })
		if err != nil || len(orphans) != 1 || orphans[0].ID != "01JCSEED0000000000000PYTH7" {
			t.Fatalf("orphans = %v, %v", orphans, err)
		}
		got, err := db.GetTask(ctx, bdb, "01JCSEED0000000000000PYTH7")
		if err != nil || got.Enabled {
			t.Errorf("orphan after validation: %+v, %v", got, err)
		}
		if !got.CreatedAt.Equal(at) {
			t.Errorf("created_at changed to %v", got.CreatedAt)
		}
		if shell, _ := db.GetTask(ctx, bdb, "01JCSEED0000000000000PYTHA"); !shell.Enabled {
			t.Error("a shell task was disabled")
		}
	})
}

func TestMigrateTwice(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		if err := db.Migrate(context.Background(), bdb); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
	})
}

// TestPersistReusedJobID stores the artifact of a second run of one job id
// (a keyed job submitted again after the first was deleted): each run keeps
// its own artifact, retries of either are idempotent, and the job's
// artifact is the newest.
func TestPersistReusedJobID(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		jobID, taskID := db.NewID(), db.NewID()
		persist := func(runID, out string) string {
			t.Helper()
			id, _, err := db.PersistJobArtifact(ctx, bdb, db.Execution{JobID: jobID, RunID: runID, TaskID: taskID, StartedAt: time.Now(), Data: db.JSON(out)})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		first := persist("run-1", `{"stdout":"first"}`)
		second := persist("run-2", `{"stdout":"second"}`)
		if first == second {
			t.Fatalf("the second run of job %s got the first run's artifact", jobID)
		}
		if again := persist("run-2", `{"stdout":"retry"}`); again != second {
			t.Errorf("retry of run 2 stored %s, want %s", again, second)
		}
		if again := persist("run-1", `{"stdout":"retry"}`); again != first {
			t.Errorf("retry of run 1 stored %s, want %s", again, first)
		}
		found, err := db.JobArtifacts(ctx, bdb, []string{jobID})
		if err != nil || found[jobID].ID != second {
			t.Errorf("JobArtifacts = %v, %v; want the newest, %s", found, err, second)
		}
	})
}

// TestScheduledJobIDs stores the artifact of a job a schedule started, whose
// id is longer than a ULID, staged and inline.
func TestScheduledJobIDs(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		taskID := db.NewID()
		staged := db.NewID() + "-2026-01-02T03:04:05Z"
		if err := db.StageJobOutput(ctx, bdb, staged, db.JSON(`{"big":true}`)); err != nil {
			t.Fatal(err)
		}
		inline := db.NewID() + "-2026-01-02T03:04:06Z"
		for _, e := range []db.Execution{
			{JobID: staged, TaskID: taskID, StartedAt: time.Now()},
			{JobID: inline, TaskID: taskID, StartedAt: time.Now(), Data: db.JSON(`{"stdout":"a"}`)},
		} {
			if _, _, err := db.PersistJobArtifact(ctx, bdb, e); err != nil {
				t.Fatalf("persist %s: %v", e.JobID, err)
			}
		}
		found, err := db.JobArtifacts(ctx, bdb, []string{staged, inline})
		if err != nil || len(found) != 2 {
			t.Errorf("JobArtifacts = %v, %v", found, err)
		}
		if err := db.AppendJobLog(ctx, bdb, []db.LogChunk{{JobID: inline, Stream: "stdout", Data: "a", CreatedAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		if chunks, err := db.JobLog(ctx, bdb, inline, 0, 1024); err != nil || len(chunks) != 1 {
			t.Errorf("JobLog = %v, %v", chunks, err)
		}
	})
}
