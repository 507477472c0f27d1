package db

import (
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/domain"
)

// ErrNotFound is returned by every lookup whose row does not exist. Its
// caller knows what was looked for and names it.
var ErrNotFound = &domain.Error{Code: domain.NotFound, Message: "not found"}

// JSON is a raw JSON document stored as jsonb on PostgreSQL and as text on
// SQLite. A nil JSON is SQL NULL. It exists because bun writes a plain
// []byte as bytea, which PostgreSQL refuses for a jsonb column.
type JSON []byte

// Value implements driver.Valuer.
func (j JSON) Value() (driver.Value, error) {
	if j == nil {
		return nil, nil
	}
	return string(j), nil
}

// Scan implements sql.Scanner.
func (j *JSON) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case []byte:
		*j = append(JSON(nil), v...)
	case string:
		*j = JSON(v)
	default:
		return fmt.Errorf("scan JSON from %T", src)
	}
	return nil
}

// MarshalJSON returns the document itself, or null.
func (j JSON) MarshalJSON() ([]byte, error) {
	if j == nil {
		return []byte("null"), nil
	}
	return j, nil
}

// UnmarshalJSON keeps a copy of the raw document; null becomes nil.
func (j *JSON) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*j = nil
		return nil
	}
	*j = append(JSON(nil), b...)
	return nil
}

// Task is a reusable task template.
type Task struct {
	bun.BaseModel `bun:"table:tasks"`

	ID         string `bun:"id,pk"`
	Command    string `bun:"command,notnull"`
	TaskType   string `bun:"task_type,notnull"`
	Parameters JSON   `bun:"parameters"`
	Enabled    bool   `bun:"enabled,notnull"`
	// TimeoutSeconds bounds one run of the task; nil means no limit.
	TimeoutSeconds *int64 `bun:"timeout_seconds"`
	// RetryPolicy is the task's retry policy for infrastructure failures
	// as the API validated it; nil means the defaults.
	RetryPolicy JSON      `bun:"retry_policy"`
	CreatedAt   time.Time `bun:"created_at,notnull"`
	UpdatedAt   time.Time `bun:"updated_at,notnull"`
	// CreateKey is the Idempotency-Key the task was created with, and
	// CreateRequestSHA256 the digest of that request; nil without a key.
	CreateKey           *string `bun:"create_key"`
	CreateRequestSHA256 *string `bun:"create_request_sha256"`
}

// Artifact is an immutable result record. JobID, TaskID and StartedAt are
// set on execution artifacts so that a job's or a task's artifacts are found
// by index, and job records need nothing else.
type Artifact struct {
	bun.BaseModel `bun:"table:artifacts"`

	ID       string  `bun:"id,pk"`
	ParentID *string `bun:"parent_id"`
	Level    int     `bun:"level,notnull"`
	Data     JSON    `bun:"data,notnull"`
	JobID    *string `bun:"job_id"`
	TaskID   *string `bun:"task_id"`
	// StartedAt is when the job's run step started, for job records.
	StartedAt *time.Time `bun:"started_at"`
	// RunID is the Temporal run that stored the artifact. A keyed job's id
	// comes back after the job is deleted, so the id alone does not name
	// one execution.
	RunID     *string   `bun:"run_id"`
	CreatedAt time.Time `bun:"created_at,notnull"`
	UpdatedAt time.Time `bun:"updated_at,notnull"`
}

// ArtifactStore gives registered functions access to artifacts: they may
// read results of earlier runs and store artifacts of their own.
type ArtifactStore struct {
	DB bun.IDB
}
