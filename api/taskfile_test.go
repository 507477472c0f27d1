package api_test

import (
	"strings"
	"testing"

	"github.com/chaptask/chaptask/api"
)

func TestDecodeTaskFile(t *testing.T) {
	const idA, idB = "01K72P5N5KCRM6MD3BRE4P0991", "01K72P5N5KCRM6MD3BRE4P0992"
	yamlFile := `
tasks:
  - id: ` + idA + `
    command: calculate_sum
    task_type: python
    parameters: {a: 10, b: 32}
  - id: ` + strings.ToLower(idB) + `
    command: echo hi
    enabled: false
`
	jsonFile := `[{"id": "` + idA + `", "command": "calculate_sum", "task_type": "python", "parameters": {"a": 10, "b": 32}},
	              {"id": "` + idB + `", "command": "echo hi", "enabled": false}]`
	for name, file := range map[string]string{"yaml": yamlFile, "json": jsonFile} {
		t.Run(name, func(t *testing.T) {
			tasks, err := api.DecodeTaskFile([]byte(file), false)
			if err != nil {
				t.Fatal(err)
			}
			if len(tasks) != 2 {
				t.Fatalf("%d tasks", len(tasks))
			}
			a, b := tasks[0], tasks[1]
			if a.ID != idA || a.Command != "calculate_sum" || a.TaskType != "python" || string(a.Parameters) != `{"a":10,"b":32}` || !a.Enabled {
				t.Errorf("first task: %+v (%s)", a, a.Parameters)
			}
			if b.ID != idB || b.TaskType != "shell" || b.Enabled || b.Parameters != nil {
				t.Errorf("second task: %+v", b)
			}
		})
	}

	for _, tc := range []struct {
		name, file, wantErr string
		shellDisabled       bool
	}{
		{"not a list", `command: x`, "list of tasks", false},
		{"no id", `[{"command": "x"}]`, "task 1: id", false},
		{"bad id", `[{"id": "nope", "command": "x"}]`, `id "nope"`, false},
		{"repeated id", `[{"id": "` + idA + `", "command": "x"}, {"id": "` + idA + `", "command": "y"}]`, "task 2: id " + idA + " repeats task 1", false},
		{"bad field", `[{"id": "` + idA + `", "command": "x", "enabled": "yes"}]`, "enabled", false},
		{"missing command", `[{"id": "` + idA + `"}]`, "command", false},
		{"shell disabled", `[{"id": "` + idA + `", "command": "echo"}]`, "shell tasks are disabled", true},
		{"malformed", `[{"id": `, "parse task file", false},
		{"invalid UTF-8", "[{\"id\": \"" + idA + "\", \"command\": \"\xff\"}]", "UTF-8", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := api.DecodeTaskFile([]byte(tc.file), tc.shellDisabled)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
