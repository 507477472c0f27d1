package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
	"gopkg.in/yaml.v3"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/domain"
	"github.com/chaptask/chaptask/tasks"
)

// DecodeTaskFile parses a task file: YAML or JSON (JSON is YAML), either a
// list of tasks or an object whose "tasks" member is that list. Each task is
// a POST /api/v1/tasks body plus its "id", a ULID that makes applying the
// file idempotent. Every task is validated exactly as the API validates it;
// the error names each bad task by position and id.
func DecodeTaskFile(raw []byte, shellDisabled bool) ([]db.Task, error) {
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("task file is not valid UTF-8")
	}
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse task file: %w", err)
	}
	if m, ok := doc.(map[string]any); ok {
		doc = m["tasks"]
	}
	items, ok := doc.([]any)
	if !ok {
		return nil, fmt.Errorf(`task file must be a list of tasks or an object with a "tasks" list`)
	}

	tasks := make([]db.Task, 0, len(items))
	seen := make(map[string]int, len(items))
	var problems []string
	for i, item := range items {
		t, err := decodeFileTask(item, shellDisabled)
		if err == nil {
			if first, dup := seen[t.ID]; dup {
				err = fmt.Errorf("id %s repeats task %d", t.ID, first+1)
			}
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("task %d: %v", i+1, err))
			continue
		}
		seen[t.ID] = i
		tasks = append(tasks, *t)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("invalid task file: %s", strings.Join(problems, "; "))
	}
	return tasks, nil
}

func decodeFileTask(item any, shellDisabled bool) (*db.Task, error) {
	fields, ok := item.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be a mapping of task fields")
	}
	rawID, _ := fields["id"].(string)
	id, err := ulid.ParseStrict(rawID)
	if err != nil {
		return nil, fmt.Errorf("id %q: want a ULID such as %s", truncate(rawID, 64), ulid.Make())
	}
	delete(fields, "id")
	body, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("id %s: fields are not expressible as JSON: %w", id, err)
	}
	in, err := decodeTaskInput(body)
	if err != nil {
		return nil, fmt.Errorf("id %s: %v", id, err)
	}
	t := in.task(id.String())
	if err := tasks.Admit(domain.Policy{ShellDisabled: shellDisabled}, t); err != nil {
		// Worded as the API words it: "task_type: …".
		return nil, fmt.Errorf("id %s: %v", id, problemFor(err))
	}
	return t, nil
}
