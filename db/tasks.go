package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/domain"
)

// TaskFilter selects tasks for ListTasks and CountTasks. A zero Limit means
// no limit.
type TaskFilter struct {
	Enabled *bool
	Limit   int
	Offset  int
}

func (f TaskFilter) apply(q *bun.SelectQuery) *bun.SelectQuery {
	if f.Enabled != nil {
		q = q.Where("enabled = ?", *f.Enabled)
	}
	return q
}

// CreateTask inserts t.
func CreateTask(ctx context.Context, idb bun.IDB, t *Task) error {
	if _, err := idb.NewInsert().Model(t).Exec(ctx); err != nil {
		return fmt.Errorf("insert task: %w", err)
	}
	return nil
}

// CreateTaskOnce inserts t, which carries a CreateKey, unless a task
// created with that key exists: then it returns that task and true. The key
// goes in the same INSERT as the task, so of any number of concurrent calls
// with one key exactly one creates a task, and a create whose answer was
// lost is found again.
func CreateTaskOnce(ctx context.Context, idb bun.IDB, t *Task) (*Task, bool, error) {
	if t.CreateKey == nil {
		return nil, false, errors.New("create task once: no key")
	}
	// A task found by its key may be deleted before it is read; the key is
	// then free again and the insert is tried once more.
	for range 3 {
		res, err := idb.NewInsert().Model(t).On("CONFLICT (create_key) DO NOTHING").Exec(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("insert task: %w", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			return t, false, nil
		}
		existing := new(Task)
		err = idb.NewSelect().Model(existing).Where("create_key = ?", *t.CreateKey).Scan(ctx)
		if err == nil {
			return existing, true, nil
		}
		if !errors.Is(notFound(err), ErrNotFound) {
			return nil, false, fmt.Errorf("find task by create key: %w", err)
		}
	}
	return nil, false, fmt.Errorf("create task with key %q: it keeps being deleted", *t.CreateKey)
}

// GetTask returns the task with the given id, or ErrNotFound.
func GetTask(ctx context.Context, idb bun.IDB, id string) (*Task, error) {
	t := new(Task)
	if err := idb.NewSelect().Model(t).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return t, nil
}

// ListTasks returns tasks newest first.
func ListTasks(ctx context.Context, idb bun.IDB, f TaskFilter) ([]Task, error) {
	tasks := []Task{}
	q := f.apply(idb.NewSelect().Model(&tasks)).Order("created_at DESC", "id DESC")
	if f.Limit > 0 {
		q = q.Limit(int64(f.Limit)).Offset(int64(f.Offset))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return tasks, nil
}

// CountTasks counts the tasks f selects, ignoring its limit and offset.
func CountTasks(ctx context.Context, idb bun.IDB, f TaskFilter) (int, error) {
	n, err := f.apply(idb.NewSelect().Model((*Task)(nil))).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count tasks: %w", err)
	}
	return int(n), nil
}

// ReplaceTask overwrites every editable column of the task t.ID and fills t
// with the stored row (including its original created_at). It returns
// ErrNotFound when no such task exists.
func ReplaceTask(ctx context.Context, idb bun.IDB, t *Task) error {
	err := idb.NewUpdate().Model(t).
		Column("command", "task_type", "parameters", "enabled", "timeout_seconds", "retry_policy", "updated_at").
		WherePK().
		Returning("*").
		Scan(ctx)
	if err != nil {
		return notFound(err)
	}
	return nil
}

// DeleteTask removes a task; its artifacts stay. It returns ErrNotFound when
// no such task exists.
func DeleteTask(ctx context.Context, idb bun.IDB, id string) error {
	res, err := idb.NewDelete().Model((*Task)(nil)).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("delete task %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNotFound
	}
	return nil
}

// SeedTasks inserts tasks when the tasks table is empty and reports how many
// it inserted. A database that has ever held tasks is left alone, so a user
// who deleted the examples does not get them back on restart.
func SeedTasks(ctx context.Context, db *bun.DB, tasks []Task) (int, error) {
	inserted := 0
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		n, err := tx.NewSelect().Model((*Task)(nil)).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 || len(tasks) == 0 {
			return nil
		}
		if _, err := tx.NewInsert().Model(&tasks).On("CONFLICT (id) DO NOTHING").Exec(ctx); err != nil {
			return err
		}
		inserted = len(tasks)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("seed tasks: %w", err)
	}
	return inserted, nil
}

// DisableOrphanTasks disables, in one transaction, every enabled function
// task ("go" or "python") whose command isRegistered rejects, and returns the
// tasks it disabled.
func DisableOrphanTasks(ctx context.Context, db *bun.DB, isRegistered func(name string) bool) ([]Task, error) {
	var orphans []Task
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var candidates []Task
		err := tx.NewSelect().Model(&candidates).
			Where("enabled = ?", true).
			Where("task_type IN (?)", bun.In(domain.FunctionTaskTypes)).
			Order("id").
			Scan(ctx)
		if err != nil {
			return err
		}
		orphans = orphans[:0]
		var ids []string
		for _, t := range candidates {
			if !isRegistered(t.Command) {
				orphans = append(orphans, t)
				ids = append(ids, t.ID)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		now := Now()
		_, err = tx.NewUpdate().Model((*Task)(nil)).
			Set("enabled = ?", false).
			Set("updated_at = ?", now).
			Where("id IN (?)", bun.In(ids)).
			Exec(ctx)
		if err != nil {
			return err
		}
		for i := range orphans {
			orphans[i].Enabled = false
			orphans[i].UpdatedAt = now
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("disable orphan tasks: %w", err)
	}
	return orphans, nil
}

// TaskFileResult counts what ApplyTasks did.
type TaskFileResult struct {
	Created, Updated, Unchanged int
}

// ApplyTasks makes each of tasks exist with exactly its definition, matched
// by id, in one transaction: missing tasks are created, differing ones
// replaced, identical ones left alone (their updated_at does not move), so
// applying the same file at every start changes nothing. Tasks not in the
// list are not touched.
func ApplyTasks(ctx context.Context, db *bun.DB, tasks []Task) (TaskFileResult, error) {
	var res TaskFileResult
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res = TaskFileResult{}
		now := Now()
		for i := range tasks {
			want := tasks[i]
			have, err := GetTask(ctx, tx, want.ID)
			switch {
			case errors.Is(err, ErrNotFound):
				want.CreatedAt, want.UpdatedAt = now, now
				if err := CreateTask(ctx, tx, &want); err != nil {
					return err
				}
				res.Created++
			case err != nil:
				return err
			case sameDefinition(have, &want):
				res.Unchanged++
			default:
				want.UpdatedAt = now
				if err := ReplaceTask(ctx, tx, &want); err != nil {
					return err
				}
				res.Updated++
			}
		}
		return nil
	})
	if err != nil {
		return TaskFileResult{}, fmt.Errorf("apply tasks: %w", err)
	}
	return res, nil
}

// sameDefinition reports whether two tasks define the same work; parameters
// compare as JSON values because PostgreSQL's jsonb reorders keys.
func sameDefinition(a, b *Task) bool {
	if a.Command != b.Command || a.TaskType != b.TaskType || a.Enabled != b.Enabled {
		return false
	}
	if (a.Parameters == nil) != (b.Parameters == nil) {
		return false
	}
	if a.Parameters == nil {
		return true
	}
	var av, bv any
	if json.Unmarshal(a.Parameters, &av) != nil || json.Unmarshal(b.Parameters, &bv) != nil {
		return false
	}
	return reflect.DeepEqual(av, bv)
}
