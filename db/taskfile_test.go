package db_test

import (
	"context"
	"testing"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
)

func TestApplyTasksIsIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		ctx := context.Background()
		other := &db.Task{ID: db.NewID(), Command: "echo not in the file", TaskType: "shell", Enabled: true, CreatedAt: db.Now(), UpdatedAt: db.Now()}
		if err := db.CreateTask(ctx, bdb, other); err != nil {
			t.Fatal(err)
		}
		file := []db.Task{
			{ID: db.NewID(), Command: "calculate_sum", TaskType: "python", Parameters: db.JSON(`{"b": 2, "a": 1}`), Enabled: true},
			{ID: db.NewID(), Command: "echo hi", TaskType: "shell", Enabled: false},
		}
		res, err := db.ApplyTasks(ctx, bdb, file)
		if err != nil {
			t.Fatal(err)
		}
		if res != (db.TaskFileResult{Created: 2}) {
			t.Fatalf("first apply: %+v", res)
		}
		first, err := db.GetTask(ctx, bdb, file[0].ID)
		if err != nil {
			t.Fatal(err)
		}

		res, err = db.ApplyTasks(ctx, bdb, file)
		if err != nil {
			t.Fatal(err)
		}
		if res != (db.TaskFileResult{Unchanged: 2}) {
			t.Fatalf("second apply of the same file: %+v", res)
		}
		again, err := db.GetTask(ctx, bdb, file[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if !again.UpdatedAt.Equal(first.UpdatedAt) {
			t.Errorf("an unchanged task's updated_at moved: %v → %v", first.UpdatedAt, again.UpdatedAt)
		}

		file[1].Enabled = true
		file[1].Command = "echo changed"
		res, err = db.ApplyTasks(ctx, bdb, file)
		if err != nil {
			t.Fatal(err)
		}
		if res != (db.TaskFileResult{Updated: 1, Unchanged: 1}) {
			t.Fatalf("apply after an edit: %+v", res)
		}
		changed, err := db.GetTask(ctx, bdb, file[1].ID)
		if err != nil {
			t.Fatal(err)
		}
		if changed.Command != "echo changed" || !changed.Enabled {
			t.Errorf("edited task: %+v", changed)
		}
		if _, err := db.GetTask(ctx, bdb, other.ID); err != nil {
			t.Errorf("a task outside the file was touched: %v", err)
		}
	})
}
