package jobs

import (
	"context"
	"crypto/sha256"
	"errors"

	"go.temporal.io/api/serviceerror"

	"github.com/oklog/ulid/v2"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/workflows"
)

// MaxIdempotencyKeyLen bounds an idempotency key.
const MaxIdempotencyKeyLen = 255

// ValidIdempotencyKey reports whether key is 1 to MaxIdempotencyKeyLen
// printable ASCII characters (space included).
func ValidIdempotencyKey(key string) bool {
	if key == "" || len(key) > MaxIdempotencyKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// KeyedJobID is the id of the job that submitting taskID with an
// idempotency key starts: a ULID whose time part is zero and whose 80 random
// bits are the first 10 bytes of SHA-256(taskID NUL key). It is derived, not
// generated, so every submit with the same key for the same task names the
// same Temporal workflow id; the job's times come from Temporal, not from the
// id.
func KeyedJobID(taskID, key string) string {
	sum := sha256.Sum256([]byte(taskID + "\x00" + key))
	var id ulid.ULID
	copy(id[6:], sum[:10])
	return id.String()
}

// SubmitKeyed starts the job that key names for task, unless a job with
// that id exists, live or finished; then it starts nothing. It returns the
// job id and whether the job already existed. Temporal's workflow-id
// policies make this atomic: of any number of concurrent calls, one starts
// the job.
func (s *Service) SubmitKeyed(ctx context.Context, task *db.Task, key string, overrides *workflows.RunOverrides) (string, bool, error) {
	jobID := KeyedJobID(task.ID, key)
	err := s.start(ctx, startRequest{
		jobID: jobID,
		task:  searchable{id: task.ID, taskType: task.TaskType, command: task.Command},
		input: submitInput(task, overrides),
		keyed: true,
	})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started):
		return jobID, true, nil
	case err != nil:
		return "", false, s.wrap(err, "start keyed job %s for task %s", jobID, task.ID)
	}
	return jobID, false, nil
}

// KeyedJobExists reports whether the job key names for taskID exists, for
// answering a repeated submit when the task itself can no longer be run.
func (s *Service) KeyedJobExists(ctx context.Context, taskID, key string) (string, bool) {
	jobID := KeyedJobID(taskID, key)
	_, err := s.Get(ctx, jobID)
	return jobID, err == nil
}
