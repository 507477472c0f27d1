package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/workflows"
)

// raw is reference B: a job's work without Temporal, in this process.
type raw struct {
	db       *bun.DB
	taskID   string
	shellEnv []string
}

// startRaw opens reference B's database in dir.
func startRaw(ctx context.Context, dir, databaseURL string, shellEnv []string) (*raw, error) {
	bdb, taskID, err := openReferenceDB(ctx, databaseURL, dir)
	if err != nil {
		return nil, err
	}
	return &raw{db: bdb, taskID: taskID, shellEnv: shellEnv}, nil
}

// rawArtifact is the artifact data reference B stores: the same fields as
// a chaptask shell artifact.
type rawArtifact struct {
	Task     workflows.TaskSnapshot `json:"task"`
	Stdout   string                 `json:"stdout"`
	Stderr   string                 `json:"stderr"`
	ExitCode int                    `json:"exit_code"`
}

// job reads the task, runs its command with /bin/sh -c and stores the
// artifact.
func (r *raw) job(ctx context.Context) (string, error) {
	task, err := db.GetTask(ctx, r.db, r.taskID)
	if err != nil {
		return "", err
	}
	started := time.Now().UTC()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", task.Command)
	cmd.Env = r.shellEnv
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	art := rawArtifact{Task: workflows.TaskSnapshot{
		ID:         task.ID,
		Command:    task.Command,
		TaskType:   task.TaskType,
		Parameters: json.RawMessage(task.Parameters),
		Enabled:    task.Enabled,
		CreatedAt:  task.CreatedAt.UTC(),
		UpdatedAt:  task.UpdatedAt.UTC(),
	}}
	var exitErr *exec.ExitError
	switch err := cmd.Run(); {
	case err == nil:
	case errors.As(err, &exitErr):
		art.ExitCode = exitErr.ExitCode()
	default:
		return "", fmt.Errorf("run %q: %w", task.Command, err)
	}
	art.Stdout, art.Stderr = stdout.String(), stderr.String()
	data, err := json.Marshal(art)
	if err != nil {
		return "", err
	}
	_, _, err = db.PersistJobArtifact(ctx, r.db, db.Execution{JobID: db.NewID(), TaskID: task.ID, StartedAt: started, Data: data})
	if err != nil {
		return "", err
	}
	return "completed", nil
}

func (r *raw) stop() error {
	return r.db.Close()
}

// openReferenceDB opens and migrates a reference's database (SQLite in dir
// unless databaseURL names PostgreSQL) and creates the echo task in it.
func openReferenceDB(ctx context.Context, databaseURL, dir string) (*bun.DB, string, error) {
	bdb, err := db.Open(ctx, databaseURL, dir)
	if err != nil {
		return nil, "", err
	}
	if err := db.Migrate(ctx, bdb); err != nil {
		bdb.Close()
		return nil, "", err
	}
	now := db.Now()
	task := &db.Task{ID: db.NewID(), Command: "echo hi", TaskType: domain.TaskTypeShell, Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateTask(ctx, bdb, task); err != nil {
		bdb.Close()
		return nil, "", err
	}
	return bdb, task.ID, nil
}
