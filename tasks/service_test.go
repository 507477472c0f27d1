package tasks_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/tasks"
)

func newTask(taskType string) *db.Task {
	now := db.Now()
	return &db.Task{ID: db.NewID(), Command: "echo hi", TaskType: taskType, Enabled: true, CreatedAt: now, UpdatedAt: now}
}

// wantCode fails unless err is a domain error of code with message (when
// message is not empty).
func wantCode(t *testing.T, err error, code domain.Code, message string) {
	t.Helper()
	if domain.CodeOf(err) != code {
		t.Fatalf("error %v has code %q, want %q", err, domain.CodeOf(err), code)
	}
	if message != "" && err.Error() != message && !strings.HasPrefix(err.Error(), message+": ") {
		t.Errorf("error %q, want %q", err, message)
	}
}

func TestShellRule(t *testing.T) {
	off := domain.Policy{ShellDisabled: true}
	for _, typ := range domain.TaskTypes {
		err := tasks.Admit(off, newTask(typ))
		if typ == domain.TaskTypeShell {
			wantCode(t, err, domain.Invalid, "")
			var e *domain.Error
			if !errors.As(err, &e) || !slices.Equal(e.Field, []string{"body", "task_type"}) || e.Reason != "value_error.shell_disabled" {
				t.Errorf("shell refusal %+v, want it to name body.task_type", err)
			}
		} else if err != nil {
			t.Errorf("Admit(%s task) with shell disabled = %v, want nil", typ, err)
		}
		if err := tasks.Admit(domain.Policy{}, newTask(typ)); err != nil {
			t.Errorf("Admit(%s task) = %v, want nil", typ, err)
		}
	}
}

func TestTaskRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		ctx := t.Context()
		svc := tasks.New(tasks.Config{DB: bdb, Policy: domain.Policy{ShellDisabled: true}})

		_, _, err := svc.Create(ctx, newTask(domain.TaskTypeShell), "", "")
		wantCode(t, err, domain.Invalid, "")

		fn := newTask(domain.TaskTypeGo)
		if _, _, err := svc.Create(ctx, fn, "key-1", "digest-a"); err != nil {
			t.Fatalf("create: %v", err)
		}
		again := newTask(domain.TaskTypeGo)
		stored, replayed, err := svc.Create(ctx, again, "key-1", "digest-a")
		if err != nil || !replayed || stored.ID != fn.ID {
			t.Errorf("same key, same request: %v, replayed %v, id %v; want task %s replayed", err, replayed, stored, fn.ID)
		}
		_, _, err = svc.Create(ctx, newTask(domain.TaskTypeGo), "key-1", "digest-b")
		wantCode(t, err, domain.Invalid, "")

		missing := db.NewID()
		_, err = svc.Get(ctx, missing)
		wantCode(t, err, domain.NotFound, "Task "+missing+" not found")
		err = svc.Replace(ctx, &db.Task{ID: missing, Command: "x", TaskType: domain.TaskTypeGo, Enabled: true, UpdatedAt: db.Now()})
		wantCode(t, err, domain.NotFound, "Task "+missing+" not found")
		wantCode(t, svc.Delete(ctx, missing), domain.NotFound, "Task "+missing+" not found")

		shell := *fn
		shell.TaskType = domain.TaskTypeShell
		wantCode(t, svc.Replace(ctx, &shell), domain.Invalid, "")

		list, total, err := svc.List(ctx, db.TaskFilter{}, true)
		if err != nil || len(list) != 1 || total != 1 {
			t.Errorf("List = %d tasks, total %d, %v; want the one created", len(list), total, err)
		}
		if err := svc.Delete(ctx, fn.ID); err != nil {
			t.Errorf("delete: %v", err)
		}

		// Without job execution, running and scheduling are unavailable.
		_, _, err = svc.Execute(ctx, fn.ID, "", nil)
		wantCode(t, err, domain.Unavailable, "")
		_, err = svc.Rerun(ctx, db.NewID(), nil)
		wantCode(t, err, domain.Unavailable, "")
	})
}

func TestReadOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		ctx := t.Context()
		svc := tasks.New(tasks.Config{DB: bdb, Policy: domain.Policy{TasksReadOnly: true}})
		wantCode(t, svc.Writable(), domain.ReadOnly, "")
		_, _, err := svc.Create(ctx, newTask(domain.TaskTypeGo), "", "")
		wantCode(t, err, domain.ReadOnly, "")
		wantCode(t, svc.Replace(ctx, newTask(domain.TaskTypeGo)), domain.ReadOnly, "")
		wantCode(t, svc.Delete(ctx, db.NewID()), domain.ReadOnly, "")
		if _, _, err := svc.List(ctx, db.TaskFilter{}, false); err != nil {
			t.Errorf("reading tasks in a read-only deployment: %v", err)
		}
	})
}
